//! OpenID clients, for the operator (`admin client …`) and org admins (the org-admin API): thin
//! callers of the registry's use cases (`use_cases::oauth_clients`), and the views they show.

use serde::Serializer;

use super::*;
use crate::oidc_clients::{ClientPatch, ClientSpec};
use crate::use_cases::{self, ClientScope, IssuedClient, Reconciled};

/// A client as its managers see it: its settings (as a [`ClientSpec`], every field filled in),
/// its state, and its secrets' times, never their hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    #[serde(flatten)]
    pub settings: ClientSpec,
    pub declarative: bool,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub secrets: Vec<SecretView>,
    /// The service account a client-credentials client acts as in its org; absent for other
    /// clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ServiceAccountView>,
}

/// A service account as its managers see it, like an API key: whom it is (`sub` of its
/// tokens), its org and its roles there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountView {
    /// The `sub` of its tokens.
    pub id: UserId,
    pub org_id: OrgId,
    /// ADMIN, AUTHOR, JOBCREATOR, EXECUTOR, PARSABLE_ADMIN.
    pub roles: Vec<String>,
    /// Its tokens issued before this are refused (the client was disabled, or a token revoked).
    pub tokens_not_before: Option<Timestamp>,
}

impl ServiceAccountView {
    pub fn new(a: &ServiceAccount) -> ServiceAccountView {
        ServiceAccountView {
            id: a.id,
            org_id: a.org_id,
            roles: a.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            tokens_not_before: a.tokens_not_before,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretView {
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub live: bool,
}

impl ClientView {
    pub fn new(c: &OAuthClient, now: Timestamp) -> ClientView {
        ClientView {
            settings: ClientSpec::from(c),
            declarative: c.declarative,
            disabled_at: c.disabled_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
            secrets: c
                .secrets
                .iter()
                .map(|s| SecretView {
                    created_at: s.created_at,
                    expires_at: s.expires_at,
                    live: s.is_live(now),
                })
                .collect(),
            service_account: None,
        }
    }

    /// The view with the client's service account, if it has one.
    pub fn with_account(mut self, account: Option<&ServiceAccount>) -> ClientView {
        self.service_account = account
            .filter(|a| a.client_id == self.client_id())
            .map(ServiceAccountView::new);
        self
    }

    pub fn client_id(&self) -> &str {
        self.settings.client_id.as_deref().unwrap_or_default()
    }
}

/// A client with the secret just made, if any: `clientSecret` appears in the JSON only then,
/// and this is the one time it is shown.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedClientView {
    #[serde(flatten)]
    pub client: ClientView,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "reveal")]
    #[schemars(with = "Option<String>")]
    pub client_secret: Option<Zeroizing<String>>,
}

fn reveal<S: Serializer>(s: &Option<Zeroizing<String>>, ser: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(s) => ser.serialize_str(s),
        None => ser.serialize_none(),
    }
}

impl std::fmt::Debug for IssuedClientView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedClientView")
            .field("client", &self.client.client_id())
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl From<IssuedClient> for IssuedClientView {
    fn from(i: IssuedClient) -> Self {
        IssuedClientView {
            client: ClientView::new(&i.client, now()),
            client_secret: i.secret,
        }
    }
}

/// A back-channel logout delivery, as `client show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoticeView {
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub attempts: i32,
    pub next_attempt_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// One client with its latest back-channel logout deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientDetail {
    #[serde(flatten)]
    pub client: ClientView,
    pub logout_notices: Vec<NoticeView>,
}

/// How many deliveries `client show` lists.
const SHOWN_NOTICES: u32 = 20;

impl Admin {
    pub async fn create_client(
        &self,
        scope: ClientScope,
        spec: ClientSpec,
    ) -> AdminResult<IssuedClientView> {
        let uc = self.use_case();
        let issued = use_cases::create_oauth_client(&uc, &self.oidc, scope, spec).await?;
        self.with_account(issued.into()).await
    }

    /// The view with the client's service account, as the store has it now.
    async fn with_account(&self, mut view: IssuedClientView) -> AdminResult<IssuedClientView> {
        let account = self
            .store
            .get_service_account(view.client.client_id())
            .await?;
        view.client = view.client.with_account(account.as_ref());
        Ok(view)
    }

    pub async fn list_clients(&self, scope: ClientScope) -> AdminResult<Vec<ClientView>> {
        let now = now();
        let org = match scope {
            ClientScope::Operator => None,
            ClientScope::Org(org) => Some(org),
        };
        let accounts = self.store.list_service_accounts(org).await?;
        Ok(use_cases::list_oauth_clients(self.store.as_ref(), scope)
            .await?
            .iter()
            .map(|c| {
                let account = accounts.iter().find(|a| a.client_id == c.client_id);
                ClientView::new(c, now).with_account(account)
            })
            .collect())
    }

    /// Replaces the roles of a client-credentials client's service account.
    pub async fn set_client_roles(
        &self,
        scope: ClientScope,
        client_id: &str,
        roles: &[String],
    ) -> AdminResult<ClientView> {
        let roles = roles
            .iter()
            .map(|r| r.parse::<Role>())
            .collect::<Result<BTreeSet<Role>, String>>()
            .map_err(AdminError::Invalid)?;
        let uc = self.use_case();
        let account = use_cases::set_service_account_roles(&uc, scope, client_id, roles).await?;
        let c = use_cases::find_oauth_client(self.store.as_ref(), scope, client_id).await?;
        Ok(ClientView::new(&c, now()).with_account(Some(&account)))
    }

    pub async fn show_client(
        &self,
        scope: ClientScope,
        client_id: &str,
    ) -> AdminResult<ClientDetail> {
        let c = use_cases::find_oauth_client(self.store.as_ref(), scope, client_id).await?;
        let notices = self
            .store
            .list_logout_notices(client_id, SHOWN_NOTICES)
            .await?;
        let account = self.store.get_service_account(client_id).await?;
        Ok(ClientDetail {
            client: ClientView::new(&c, now()).with_account(account.as_ref()),
            logout_notices: notices
                .into_iter()
                .map(|n| NoticeView {
                    user_id: n.user_id,
                    created_at: n.created_at,
                    attempts: n.attempts,
                    next_attempt_at: n.next_attempt_at,
                    delivered_at: n.delivered_at,
                    last_error: n.last_error,
                })
                .collect(),
        })
    }

    pub async fn update_client(
        &self,
        scope: ClientScope,
        client_id: &str,
        patch: &ClientPatch,
    ) -> AdminResult<IssuedClientView> {
        let uc = self.use_case();
        let issued =
            use_cases::update_oauth_client(&uc, &self.oidc, scope, client_id, patch).await?;
        self.with_account(issued.into()).await
    }

    pub async fn rotate_client_secret(
        &self,
        scope: ClientScope,
        client_id: &str,
    ) -> AdminResult<IssuedClientView> {
        let uc = self.use_case();
        Ok(
            use_cases::rotate_oauth_client_secret(&uc, &self.oidc, scope, client_id)
                .await?
                .into(),
        )
    }

    pub async fn set_client_disabled(
        &self,
        scope: ClientScope,
        client_id: &str,
        disabled: bool,
    ) -> AdminResult<ClientView> {
        let uc = self.use_case();
        let c = use_cases::set_oauth_client_disabled(&uc, scope, client_id, disabled).await?;
        Ok(ClientView::new(&c, now()))
    }

    pub async fn delete_client(&self, scope: ClientScope, client_id: &str) -> AdminResult<()> {
        Ok(use_cases::delete_oauth_client(&self.use_case(), scope, client_id).await?)
    }

    /// Reads the secret files of `[[core.oidc.clients]]` and makes the store match the
    /// declarations (at server start). Nothing is written unless every declaration is valid.
    pub async fn reconcile_declared_clients(&self) -> AdminResult<Reconciled> {
        self.oidc.validate().map_err(AdminError::Invalid)?;
        let loaded = self
            .oidc
            .clients
            .iter()
            .map(|d| d.load(&self.oidc))
            .collect::<Result<Vec<_>, _>>()?;
        let uc = self.use_case();
        Ok(use_cases::reconcile_declared_clients(&uc, &self.oidc, loaded).await?)
    }
}
