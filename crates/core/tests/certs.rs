//! Certificate authority: CA creation and reload, CSR verification and issued certificates.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use portcullis_core::certs::{CaAlgorithm, CertError, CertSubject, CertificateAuthority, CsrError};
use portcullis_core::config::CertificatesConfig;
use portcullis_core::crypto::MasterKey;
use portcullis_core::store::*;
use portcullis_core::*;
use rcgen::PublicKeyData;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
    SignatureAlgorithm,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

// ---- fixtures (made with OpenSSL 3; rcgen on ring cannot generate RSA keys) -------------------

/// RSA-2048, SHA-256; asks for CN=admin, O=Evil Corp, SAN email:boss@evil.example +
/// DNS:evil.example, basicConstraints CA:TRUE and EKU serverAuth+codeSigning.
const RSA2048_CSR: &str = r"-----BEGIN CERTIFICATE REQUEST-----
MIIC1jCCAb4CAQAwJDEOMAwGA1UEAwwFYWRtaW4xEjAQBgNVBAoMCUV2aWwgQ29y
cDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAKwVH36+YQE5qoHW1H/v
MwjxFl8eyr+VvGyjMCfI31yvaweFZIF1QEv5z7AH4Gih0AKxX5PjIexTPkLKQDWU
E6BDRjpvX3cCsggn+Lw08xsiEbxHCGrHLzuUtw65Ikxyrt/0KDvRozmCXSKREAYv
SK4FRGBZxp9x0ZxxaJCLFIejV8H8JsoxcELQMfxUCUR3tIOcFEzYnaSUAN/U/lEi
LubQJgZxTXwx6aef0gH8WksPv/bybqmPKGvV82ZniVgNlSDw6EmDmYyqaT2WvPw0
ftl3jL/udeRqhzyNbQwfTOpUVfEO080fA1q8E9LpMr5QjYAbBjA/d0zocCz3/6/4
MW0CAwEAAaBtMGsGCSqGSIb3DQEJDjFeMFwwKgYDVR0RBCMwIYERYm9zc0Bldmls
LmV4YW1wbGWCDGV2aWwuZXhhbXBsZTAPBgNVHRMBAf8EBTADAQH/MB0GA1UdJQQW
MBQGCCsGAQUFBwMBBggrBgEFBQcDAzANBgkqhkiG9w0BAQsFAAOCAQEAXS8mL3h3
qSNjqe/VEgo5UzNoLXDnUIqziddcNJ4FSpFBRzL5pAPW7axZrgnRoxx2hFbBLpUB
mysEFX0sxhpGhLOzkoU2v3SYAphp5nFL5eD58WJzn/sEyFKPdwXHMeyDH9w1fB/d
3nxtGLo/wfPw8cnjzw+WJ4mnErgy6ISvulF4IlAIlJORHwuhPgQJtMwaVWuyIHYB
iYhpZbXU8OjiIyM9mHnhAJG71Nyj2Z+tQwmM4r4i/OeYbYZkuOMkqzOi85vaP8UC
59HV2e5/n/m8w9V1olN3nKbr4UZSAS4/91xC89MRMjzyFTWoQJBGhZtFljshCfaQ
xtsPF/AVza4TgQ==
-----END CERTIFICATE REQUEST-----";
/// RSA-1024, SHA-256 (valid self-signature, key too small).
const RSA1024_CSR: &str = r"-----BEGIN CERTIFICATE REQUEST-----
MIIBTjCBuAIBADAPMQ0wCwYDVQQDDAR3ZWFrMIGfMA0GCSqGSIb3DQEBAQUAA4GN
ADCBiQKBgQDeB1ta4vD9BsnAvD0igGlBf3nYOSnJfhTEL6pM+yfZhJzQqCZnrpcQ
tTUTGhWk9BOJ9Ss9VcVEc1SrL+fb4JSAZ5OXv2i3ZXS0Fuvda7iKkEZmqlflQhzq
lX0I34ElkIpcJVwWC8BaS+S6VkfnjNMxDaIr4zQ9ke7jGhBB4fol4wIDAQABoAAw
DQYJKoZIhvcNAQELBQADgYEACQ8f4KbXVHDsU4B/4jlCYKeOCE/K3tu4QhFB0e1R
0LsCrWOimjMuueL8buG8GFRgFcyQTI6ZhwQlCHdrK7eG7caCAQPnNcUgpn9lt1tT
kWbFhx40gVnHzAphvLbBO0TfTOYZiBMrYVbbiG+RpnVDGig9RpZTXXyunLfWD8Xo
ncQ=
-----END CERTIFICATE REQUEST-----";
/// ECDSA on secp256k1, SHA-256.
const SECP256K1_CSR: &str = r"-----BEGIN CERTIFICATE REQUEST-----
MIHEMGwCAQAwDTELMAkGA1UEAwwCazEwVjAQBgcqhkjOPQIBBgUrgQQACgNCAAQj
MnM4+nREnZrQyx0giH8QD52R55ksQ3GVQpc4emrG+1KabisM/gpjcCn8W35Q99zn
0A9/iD+MPnV0KJvJ80E3oAAwCgYIKoZIzj0EAwIDSAAwRQIgTbyx2V3W4P6lovEX
hiARaI4Oq4IwhxsDKZlk19fnL54CIQCW1w6FJw6HuOxYrO1CdIe2ItaMKIEY+gc8
WvuMME39Hw==
-----END CERTIFICATE REQUEST-----";
/// Ed448.
const ED448_CSR: &str = r"-----BEGIN CERTIFICATE REQUEST-----
MIHaMFwCAQAwEDEOMAwGA1UEAwwFZWQ0NDgwQzAFBgMrZXEDOgAvt4TXre/TL8gh
V3+kA56EOxHjaMsFoa546spsH/PBZWTG74ZY+nRRWIkRzOXnZLcKMS5NZu8p2gCg
ADAFBgMrZXEDcwBmqQjSXkNIAIKJ2dd79mZdxTbWILFnU7ZGMn65A+hqbvNzbiq6
WMnKimq3uG1k7eDhJK4VISsK8gDZuSMvKIfOIC7EPEPSKxMPNd1OwsyQJdBBz3f2
cploLSGtN01q1tN5AUVW6gjCa4rVx3wXuV7gPgA=
-----END CERTIFICATE REQUEST-----";

// ---- an in-memory store of keys only ------------------------------------------------------------

#[derive(Default)]
struct KeyStore {
    keys: Mutex<Vec<KeyRecord>>,
}

fn fake() -> StoreError {
    StoreError::Unavailable("fake".into())
}

#[async_trait]
impl Store for KeyStore {
    async fn insert_key(&self, key: KeyRecord) -> StoreResult<()> {
        let mut keys = self.keys.lock().map_err(|_| fake())?;
        if keys.iter().any(|k| k.kid == key.kid) {
            return Err(StoreError::Conflict("kid".into()));
        }
        keys.push(key);
        Ok(())
    }
    async fn list_keys(&self, purpose: KeyPurpose) -> StoreResult<Vec<KeyRecord>> {
        let keys = self.keys.lock().map_err(|_| fake())?;
        Ok(keys
            .iter()
            .filter(|k| k.purpose == purpose)
            .cloned()
            .collect())
    }
    async fn retire_key(&self, kid: &str, at: Timestamp) -> StoreResult<()> {
        let mut keys = self.keys.lock().map_err(|_| fake())?;
        let k = keys
            .iter_mut()
            .find(|k| k.kid == kid)
            .ok_or_else(|| StoreError::NotFound("key".into()))?;
        k.retired_at.get_or_insert(at);
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "fake"
    }
    async fn close(&self) {}
    async fn begin_write(&self) -> StoreResult<Box<dyn WriteTx>> {
        Err(fake())
    }
    async fn find_credential_by_hash(&self, _hash: &[u8; 32]) -> StoreResult<Option<Credential>> {
        Err(fake())
    }
    async fn find_credential_with_membership(
        &self,
        _hash: &[u8; 32],
    ) -> StoreResult<Option<(Credential, Option<Membership>)>> {
        Err(fake())
    }
    async fn ping(&self) -> StoreResult<()> {
        Err(fake())
    }
    async fn create_user(&self, _user: NewUser) -> StoreResult<User> {
        Err(fake())
    }
    async fn get_user(&self, _id: UserId) -> StoreResult<Option<User>> {
        Err(fake())
    }
    async fn get_users(&self, _ids: &[UserId]) -> StoreResult<Vec<User>> {
        Err(fake())
    }
    async fn get_user_by_email(&self, _email: &str) -> StoreResult<Option<User>> {
        Err(fake())
    }
    async fn update_user(&self, _id: UserId, _update: UserUpdate) -> StoreResult<User> {
        Err(fake())
    }
    async fn list_users(&self, _offset: u64, _limit: u32) -> StoreResult<Vec<User>> {
        Err(fake())
    }
    async fn search_org_users(
        &self,
        _org: OrgId,
        _query: &UserQuery,
        _sort: UserSort,
        _offset: u64,
        _limit: u32,
    ) -> StoreResult<Vec<(User, Membership)>> {
        Err(fake())
    }
    async fn preregister_users(
        &self,
        _org: OrgId,
        _users: Vec<NewUser>,
        _terms: &PreregisterTerms,
    ) -> StoreResult<Vec<Preregistered>> {
        Err(fake())
    }
    async fn get_invitation(&self, _org: OrgId, _user: UserId) -> StoreResult<Option<Invitation>> {
        Err(fake())
    }
    async fn accept_invitations(
        &self,
        _user: UserId,
        _at: Timestamp,
    ) -> StoreResult<Vec<Invitation>> {
        Err(fake())
    }
    async fn upsert_region(&self, _region: Region) -> StoreResult<Region> {
        Err(fake())
    }
    async fn get_region(&self, _id: &str) -> StoreResult<Option<Region>> {
        Err(fake())
    }
    async fn list_regions(&self) -> StoreResult<Vec<Region>> {
        Err(fake())
    }
    async fn create_org(&self, _org: NewOrg) -> StoreResult<Org> {
        Err(fake())
    }
    async fn get_org(&self, _id: OrgId) -> StoreResult<Option<Org>> {
        Err(fake())
    }
    async fn get_org_by_name(&self, _name: &str) -> StoreResult<Option<Org>> {
        Err(fake())
    }
    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        Err(fake())
    }
    async fn update_org(&self, _id: OrgId, _update: OrgUpdate) -> StoreResult<Org> {
        Err(fake())
    }
    async fn upsert_membership(
        &self,
        _user: UserId,
        _org: OrgId,
        _roles: BTreeSet<Role>,
        _kind: MembershipKind,
    ) -> StoreResult<Membership> {
        Err(fake())
    }
    async fn get_membership(&self, _user: UserId, _org: OrgId) -> StoreResult<Option<Membership>> {
        Err(fake())
    }
    async fn list_user_memberships(
        &self,
        _user: UserId,
        _include_removed: bool,
    ) -> StoreResult<Vec<Membership>> {
        Err(fake())
    }
    async fn list_org_memberships(
        &self,
        _org: OrgId,
        _include_removed: bool,
    ) -> StoreResult<Vec<Membership>> {
        Err(fake())
    }
    async fn touch_last_login(
        &self,
        _user: UserId,
        _org: OrgId,
        _at: Timestamp,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn org_login_activity(
        &self,
        _orgs: &[OrgId],
        _descending: bool,
        _offset: u64,
        _limit: u32,
    ) -> StoreResult<Vec<Membership>> {
        Err(fake())
    }
    async fn reactivate_user(&self, _user: UserId) -> StoreResult<()> {
        Err(fake())
    }
    async fn reactivate_membership(&self, _user: UserId, _org: OrgId) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_settings(
        &self,
        _scope: SettingsScope,
        _ns: SettingsNamespace,
    ) -> StoreResult<Option<serde_json::Value>> {
        Err(fake())
    }
    async fn put_settings(
        &self,
        _scope: SettingsScope,
        _ns: SettingsNamespace,
        _doc: serde_json::Value,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_job_permissions(
        &self,
        _org: OrgId,
    ) -> StoreResult<BTreeMap<Role, JobPermissions>> {
        Err(fake())
    }
    async fn set_job_permissions(
        &self,
        _org: OrgId,
        _role: Role,
        _perms: Option<JobPermissions>,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_team_settings(
        &self,
        _org: OrgId,
    ) -> StoreResult<BTreeMap<String, serde_json::Value>> {
        Err(fake())
    }
    async fn update_team_settings(
        &self,
        _org: OrgId,
        _changes: &[(String, Option<serde_json::Value>)],
        _max_keys: usize,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_team_priorities(&self, _org: OrgId) -> StoreResult<Option<Vec<PriorityLevel>>> {
        Err(fake())
    }
    async fn set_team_priorities(
        &self,
        _org: OrgId,
        _priorities: Option<&[PriorityLevel]>,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn add_allowlist(&self, _entry: AllowlistEntry) -> StoreResult<()> {
        Err(fake())
    }
    async fn remove_allowlist(
        &self,
        _org: Option<OrgId>,
        _kind: AllowlistKind,
        _value: &str,
    ) -> StoreResult<bool> {
        Err(fake())
    }
    async fn list_allowlist(&self) -> StoreResult<Vec<AllowlistEntry>> {
        Err(fake())
    }
    async fn create_workspace(
        &self,
        _org: OrgId,
        _slug: &str,
        _display_name: Option<String>,
    ) -> StoreResult<Workspace> {
        Err(fake())
    }
    async fn get_workspace(&self, _id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        Err(fake())
    }
    async fn list_org_workspaces(&self, _org: OrgId) -> StoreResult<Vec<Workspace>> {
        Err(fake())
    }
    async fn update_workspace(
        &self,
        _id: WorkspaceId,
        _patch: WorkspacePatch,
    ) -> StoreResult<Workspace> {
        Err(fake())
    }
    async fn grant_workspace(&self, _grant: WorkspaceGrant) -> StoreResult<()> {
        Err(fake())
    }
    async fn revoke_workspace_grant(
        &self,
        _workspace: WorkspaceId,
        _user: UserId,
    ) -> StoreResult<bool> {
        Err(fake())
    }
    async fn list_user_workspace_grants(&self, _user: UserId) -> StoreResult<Vec<WorkspaceGrant>> {
        Err(fake())
    }
    async fn register_resources(
        &self,
        _workspace: WorkspaceId,
        _rids: &[String],
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn resource_workspaces(
        &self,
        _rids: &[String],
    ) -> StoreResult<BTreeMap<String, WorkspaceId>> {
        Err(fake())
    }
    async fn find_external_identity(
        &self,
        _issuer: &str,
        _subject: &str,
    ) -> StoreResult<Option<ExternalIdentity>> {
        Err(fake())
    }
    async fn link_external_identity(&self, _identity: ExternalIdentity) -> StoreResult<()> {
        Err(fake())
    }
    async fn provision_federated_user(
        &self,
        _user: NewUser,
        _identity: ExternalIdentity,
        _memberships: Vec<(OrgId, BTreeSet<Role>, MembershipKind)>,
    ) -> StoreResult<User> {
        Err(fake())
    }
    async fn list_user_identities(&self, _user: UserId) -> StoreResult<Vec<ExternalIdentity>> {
        Err(fake())
    }
    async fn create_session(&self, _session: Session) -> StoreResult<()> {
        Err(fake())
    }
    async fn get_session(&self, _id: &SessionId) -> StoreResult<Option<Session>> {
        Err(fake())
    }
    async fn list_user_sessions(
        &self,
        _user: UserId,
        _include_ended: bool,
        _now: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        Err(fake())
    }
    async fn revoke_session(&self, _id: &SessionId, _at: Timestamp) -> StoreResult<bool> {
        Err(fake())
    }
    async fn revoke_user_sessions(
        &self,
        _user: UserId,
        _keep: Option<&SessionId>,
        _at: Timestamp,
    ) -> StoreResult<u64> {
        Err(fake())
    }
    async fn touch_session(&self, _id: &SessionId, _at: Timestamp) -> StoreResult<()> {
        Err(fake())
    }
    async fn create_credential(
        &self,
        _credential: Credential,
        _replace_persistent: Option<UserId>,
    ) -> StoreResult<()> {
        Err(fake())
    }
    async fn create_api_key_capped(
        &self,
        _credential: Credential,
        _max_live: u32,
    ) -> StoreResult<bool> {
        Err(fake())
    }
    async fn get_credential(&self, _id: CredentialId) -> StoreResult<Option<Credential>> {
        Err(fake())
    }
    async fn list_credentials(
        &self,
        _filter: &CredentialFilter,
        _offset: u64,
        _limit: u32,
    ) -> StoreResult<Vec<Credential>> {
        Err(fake())
    }
    async fn revoke_credential(
        &self,
        _id: CredentialId,
        _by: Option<UserId>,
        _at: Timestamp,
    ) -> StoreResult<bool> {
        Err(fake())
    }
    async fn persistent_credentials_for(
        &self,
        _org: OrgId,
        _users: &[UserId],
    ) -> StoreResult<Vec<CredentialWithPeople>> {
        Err(fake())
    }
    async fn revoke_user_credentials(
        &self,
        _user: UserId,
        _by: Option<UserId>,
        _at: Timestamp,
    ) -> StoreResult<u64> {
        Err(fake())
    }
    async fn revoke_key(&self, _kid: &str, _at: Timestamp) -> StoreResult<bool> {
        Err(fake())
    }
    async fn require_password_reset(
        &self,
        _user: UserId,
        _code_hash: &[u8; 32],
        _expires_at: Timestamp,
        _revoke_credentials: bool,
        _at: Timestamp,
    ) -> StoreResult<Deactivation> {
        Err(fake())
    }
    async fn redeem_password_reset(
        &self,
        _user: UserId,
        _code_hash: &[u8; 32],
        _password_hash: &str,
        _at: Timestamp,
    ) -> StoreResult<Option<u64>> {
        Err(fake())
    }
    async fn throttle_claim(
        &self,
        _key: &str,
        _now: Timestamp,
        _hold_until: Timestamp,
    ) -> StoreResult<ThrottleClaim> {
        Err(fake())
    }
    async fn throttle_fail(
        &self,
        _key: &str,
        _next_attempt_at: Timestamp,
        _locked_until: Option<Option<Timestamp>>,
    ) -> StoreResult<i32> {
        Err(fake())
    }
    async fn throttle_reset(&self, _key: &str) -> StoreResult<()> {
        Err(fake())
    }
    async fn throttle_get(&self, _key: &str) -> StoreResult<Option<ThrottleState>> {
        Err(fake())
    }
    async fn revocation_snapshot(&self, _now: Timestamp) -> StoreResult<RevocationSnapshot> {
        Err(fake())
    }
    async fn revocation_events_since(
        &self,
        _after: i64,
        _limit: u32,
    ) -> StoreResult<Vec<(i64, RevocationEvent)>> {
        Err(fake())
    }
    async fn user_revocation_state(
        &self,
        _user: UserId,
        _now: Timestamp,
    ) -> StoreResult<UserRevocationState> {
        Err(fake())
    }
    async fn org_revocation_state(&self, _org: OrgId) -> StoreResult<OrgRevocationState> {
        Err(fake())
    }
    async fn append_audit(&self, _events: &[AuditEvent]) -> StoreResult<()> {
        Err(fake())
    }
    async fn list_audit(&self, _filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        Err(fake())
    }
    async fn bootstrap(
        &self,
        _region: Region,
        _org: NewOrg,
        _admin: NewUser,
    ) -> StoreResult<Option<(Org, User)>> {
        Err(fake())
    }
    async fn insert_sso_flow(&self, _: portcullis_core::websso::SsoFlowRecord) -> StoreResult<()> {
        Err(fake())
    }
    async fn take_sso_flow(
        &self,
        _: portcullis_core::websso::SsoFlowKind,
        _: &str,
        _: Timestamp,
    ) -> StoreResult<Option<portcullis_core::websso::SsoFlowRecord>> {
        Err(fake())
    }
    async fn purge_sso_flows(&self, _: Timestamp) -> StoreResult<u64> {
        Err(fake())
    }
}

// ---- helpers ------------------------------------------------------------------------------------

fn now() -> Timestamp {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("now")
}

fn cfg(alg: &str) -> CertificatesConfig {
    CertificatesConfig {
        ca_algorithm: alg.into(),
        ca_common_name: "Test Portcullis CA".into(),
        ..CertificatesConfig::default()
    }
}

async fn new_ca(alg: &str) -> (KeyStore, MasterKey, CertificateAuthority) {
    let store = KeyStore::default();
    let master = MasterKey::generate();
    let ca = CertificateAuthority::load_or_create(&store, &master, &cfg(alg), now())
        .await
        .expect("CA");
    (store, master, ca)
}

fn subject() -> CertSubject {
    CertSubject {
        user_id: UserId::new(),
        email: "Alice@Example.com".into(),
    }
}

/// A CSR that asks for much more than it will get.
fn rcgen_csr(alg: &'static SignatureAlgorithm) -> String {
    let key = KeyPair::generate_for(alg).expect("key");
    let mut params = CertificateParams::new(vec!["evil.example".to_string()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, "admin");
    params.subject_alt_names.push(SanType::Rfc822Name(
        "boss@evil.example".try_into().expect("ia5"),
    ));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::CodeSigning,
    ];
    params
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem")
}

fn pem_der(pem: &str) -> Vec<u8> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
    p.contents
}

fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn csr_spki(csr_pem: &str) -> Vec<u8> {
    let der = pem_der(csr_pem);
    let (_, csr) = X509CertificationRequest::from_der(&der).expect("csr");
    csr.certification_request_info.subject_pki.raw.to_vec()
}

/// Checks everything the CA guarantees about an issued certificate.
fn check_issued(
    ca: &CertificateAuthority,
    csr_pem: &str,
    cert_pem: &str,
    who: &CertSubject,
    now: Timestamp,
    not_after: Timestamp,
) {
    let ca_der = pem_der(ca.ca_certificate_pem());
    let (_, ca_cert) = X509Certificate::from_der(&ca_der).expect("ca cert");
    let der = pem_der(cert_pem);
    let (rest, cert) = X509Certificate::from_der(&der).expect("issued cert");
    assert!(rest.is_empty());

    // The CSR's key, exactly.
    assert_eq!(cert.public_key().raw, csr_spki(csr_pem).as_slice());
    // Signed by the CA.
    cert.verify_signature(Some(ca_cert.public_key()))
        .expect("signature verifies with the CA key");
    assert_eq!(cert.issuer().as_raw(), ca_cert.subject().as_raw());
    // Another key of the same algorithm does not verify it (the check above can fail).
    let other_alg = match ca.algorithm() {
        CaAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
        CaAlgorithm::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
    };
    let other_spki = KeyPair::generate_for(other_alg)
        .expect("key")
        .subject_public_key_info();
    let (_, other_spki) = SubjectPublicKeyInfo::from_der(&other_spki).expect("spki");
    assert!(cert.verify_signature(Some(&other_spki)).is_err());

    // Subject: CN = user uuid only.
    let cns: Vec<_> = cert
        .subject()
        .iter_common_name()
        .map(|a| a.as_str().expect("cn").to_string())
        .collect();
    assert_eq!(cns, vec![who.user_id.to_string()]);
    assert_eq!(
        cert.subject().iter().count(),
        1,
        "only the CN in the subject"
    );
    // SAN = the user's email only.
    let san = cert
        .subject_alternative_name()
        .expect("san")
        .expect("san present");
    assert_eq!(
        san.value.general_names,
        vec![GeneralName::RFC822Name("Alice@Example.com")]
    );
    // EKU clientAuth only.
    let eku = cert
        .extended_key_usage()
        .expect("eku")
        .expect("eku present")
        .value;
    assert!(eku.client_auth);
    assert!(
        !eku.server_auth
            && !eku.code_signing
            && !eku.any
            && !eku.email_protection
            && !eku.time_stamping
            && !eku.ocsp_signing
            && eku.other.is_empty()
    );
    // KU digitalSignature only.
    let ku = cert.key_usage().expect("ku").expect("ku present").value;
    assert!(ku.digital_signature());
    assert_eq!(ku.flags, 1);
    // Not a CA.
    let bc = cert.basic_constraints().expect("bc").expect("bc present");
    assert!(!bc.value.ca);
    assert!(bc.critical);
    // AKI = the CA's SKI.
    let ca_ski = ca_cert
        .iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .expect("CA SKI");
    let aki = cert
        .iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
        .expect("AKI");
    assert_eq!(aki, ca_ski);
    // Nothing else asked for by the CSR slipped in.
    for ext in cert.extensions() {
        assert!(
            matches!(
                ext.parsed_extension(),
                ParsedExtension::SubjectAlternativeName(_)
                    | ParsedExtension::KeyUsage(_)
                    | ParsedExtension::ExtendedKeyUsage(_)
                    | ParsedExtension::BasicConstraints(_)
                    | ParsedExtension::AuthorityKeyIdentifier(_)
                    | ParsedExtension::SubjectKeyIdentifier(_)
            ),
            "unexpected extension {}",
            ext.oid
        );
    }
    // Validity.
    assert_eq!(
        cert.validity().not_before.timestamp(),
        (now - Duration::minutes(1)).timestamp()
    );
    assert_eq!(cert.validity().not_after.timestamp(), not_after.timestamp());
    // A positive serial of at least 64 bits.
    let serial = cert.raw_serial();
    assert!(serial.len() >= 8, "serial {} bytes", serial.len());
    assert_eq!(serial[0] & 0x80, 0);
    assert_eq!(cert.version().0, 2);
}

async fn sign_and_check(ca_alg: &str, csr_pem: &str) {
    let (_store, _master, ca) = new_ca(ca_alg).await;
    let who = subject();
    let now = now();
    let not_after = now + Duration::hours(5);
    let cert = ca.sign_csr(csr_pem, &who, not_after, now).expect("signed");
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    check_issued(&ca, csr_pem, &cert, &who, now, not_after);
}

// ---- issuing ----------------------------------------------------------------------------------
mod certs_issue {
    use super::*;

    #[tokio::test]
    async fn ed25519_csr_is_signed() {
        sign_and_check("ed25519", &rcgen_csr(&rcgen::PKCS_ED25519)).await;
    }

    #[tokio::test]
    async fn p256_csr_is_signed() {
        sign_and_check("ed25519", &rcgen_csr(&rcgen::PKCS_ECDSA_P256_SHA256)).await;
    }

    #[tokio::test]
    async fn p384_csr_is_signed() {
        sign_and_check("ed25519", &rcgen_csr(&rcgen::PKCS_ECDSA_P384_SHA384)).await;
    }

    #[tokio::test]
    async fn rsa2048_csr_is_signed() {
        sign_and_check("ed25519", RSA2048_CSR).await;
    }

    #[tokio::test]
    async fn p256_ca_signs_csrs() {
        sign_and_check("p256", &rcgen_csr(&rcgen::PKCS_ED25519)).await;
        sign_and_check("p256", RSA2048_CSR).await;
    }

    #[tokio::test]
    async fn csr_pem_with_surrounding_whitespace_and_old_label_is_accepted() {
        let (_s, _m, ca) = new_ca("ed25519").await;
        let csr = rcgen_csr(&rcgen::PKCS_ED25519);
        let old = to_pem("NEW CERTIFICATE REQUEST", &pem_der(&csr));
        let now = now();
        ca.sign_csr(
            &format!("\n  {old}\n\n"),
            &subject(),
            now + Duration::hours(1),
            now,
        )
        .expect("signed");
    }

    #[tokio::test]
    async fn serials_differ() {
        let (_s, _m, ca) = new_ca("ed25519").await;
        let csr = rcgen_csr(&rcgen::PKCS_ED25519);
        let now = now();
        let a = ca
            .sign_csr(&csr, &subject(), now + Duration::hours(1), now)
            .expect("a");
        let b = ca
            .sign_csr(&csr, &subject(), now + Duration::hours(1), now)
            .expect("b");
        let (da, db) = (pem_der(&a), pem_der(&b));
        let (_, ca_) = X509Certificate::from_der(&da).expect("a");
        let (_, cb) = X509Certificate::from_der(&db).expect("b");
        assert_ne!(ca_.raw_serial(), cb.raw_serial());
    }

    #[tokio::test]
    async fn validity_is_clamped_to_the_ca_and_must_be_in_the_future() {
        let (_s, _m, ca) = new_ca("ed25519").await;
        let csr = rcgen_csr(&rcgen::PKCS_ED25519);
        let now = now();
        let cert = ca
            .sign_csr(&csr, &subject(), now + Duration::days(365 * 20), now)
            .expect("signed");
        let der = pem_der(&cert);
        let (_, c) = X509Certificate::from_der(&der).expect("cert");
        assert_eq!(
            c.validity().not_after.timestamp(),
            ca.not_after().timestamp()
        );

        for end in [now, now - Duration::seconds(1)] {
            let err = ca
                .sign_csr(&csr, &subject(), end, now)
                .expect_err("no validity left");
            assert!(matches!(err, CsrError::Issue(_)), "{err:?}");
        }
    }

    #[tokio::test]
    async fn non_ascii_email_cannot_be_a_san() {
        let (_s, _m, ca) = new_ca("ed25519").await;
        let csr = rcgen_csr(&rcgen::PKCS_ED25519);
        let now = now();
        let who = CertSubject {
            user_id: UserId::new(),
            email: "jürgen@example.com".into(),
        };
        let err = ca
            .sign_csr(&csr, &who, now + Duration::hours(1), now)
            .expect_err("refused");
        assert!(matches!(err, CsrError::Issue(_)), "{err:?}");
    }
}

// ---- refusing -----------------------------------------------------------------------------------
mod certs_refuse {
    use super::*;

    async fn refuse(csr: &str) -> CsrError {
        let (_s, _m, ca) = new_ca("ed25519").await;
        let now = now();
        ca.sign_csr(csr, &subject(), now + Duration::hours(1), now)
            .expect_err("must be refused")
    }

    #[tokio::test]
    async fn garbage_is_malformed() {
        for csr in [
            "",
            "hello",
            "-----BEGIN CERTIFICATE REQUEST-----\nnot base64 !!!\n-----END CERTIFICATE REQUEST-----\n",
            "-----BEGIN CERTIFICATE REQUEST-----\nAAECAwQF\n-----END CERTIFICATE REQUEST-----\n",
        ] {
            let err = refuse(csr).await;
            assert!(matches!(err, CsrError::Malformed(_)), "{csr:?}: {err:?}");
            assert!(
                err.to_string()
                    .starts_with("malformed certificate signing request")
            );
        }
    }

    #[tokio::test]
    async fn truncated_pem_is_malformed() {
        let csr = rcgen_csr(&rcgen::PKCS_ED25519);
        // Without its END line.
        let no_end = &csr[..csr.find("-----END").expect("end")];
        assert!(matches!(refuse(no_end).await, CsrError::Malformed(_)));
        // With the body cut short (whole base64 quads, so only the DER is truncated).
        let der = pem_der(&csr);
        let cut = to_pem("CERTIFICATE REQUEST", &der[..der.len() / 2]);
        let err = refuse(&cut).await;
        assert!(matches!(err, CsrError::Malformed(_)), "{err:?}");
    }

    #[tokio::test]
    async fn other_pem_blocks_are_malformed() {
        let (_s, _m, ca) = new_ca("ed25519").await;
        let err = refuse(ca.ca_certificate_pem()).await;
        assert!(matches!(err, CsrError::Malformed(_)), "{err:?}");
        let csr = rcgen_csr(&rcgen::PKCS_ED25519);
        let two = format!("{csr}{csr}");
        assert!(matches!(refuse(&two).await, CsrError::Malformed(_)));
        let mut trailing = pem_der(&csr);
        trailing.push(0);
        let trailing = to_pem("CERTIFICATE REQUEST", &trailing);
        assert!(matches!(refuse(&trailing).await, CsrError::Malformed(_)));
    }

    fn flip_last_byte(csr_pem: &str) -> String {
        let mut der = pem_der(csr_pem);
        let last = der.len() - 1;
        der[last] ^= 0x01;
        to_pem("CERTIFICATE REQUEST", &der)
    }

    #[tokio::test]
    async fn tampered_signature_is_refused() {
        for csr in [
            rcgen_csr(&rcgen::PKCS_ED25519),
            rcgen_csr(&rcgen::PKCS_ECDSA_P256_SHA256),
            RSA2048_CSR.to_string(),
        ] {
            let err = refuse(&flip_last_byte(&csr)).await;
            assert!(matches!(err, CsrError::BadSignature(_)), "{err:?}");
        }
    }

    #[tokio::test]
    async fn tampered_request_body_is_refused() {
        // Replace the requested CN "admin" with "admix": the signature no longer covers the data.
        let csr = rcgen_csr(&rcgen::PKCS_ED25519);
        let mut der = pem_der(&csr);
        let at = der.windows(5).position(|w| w == b"admin").expect("cn");
        der[at + 4] = b'x';
        let err = refuse(&to_pem("CERTIFICATE REQUEST", &der)).await;
        assert!(matches!(err, CsrError::BadSignature(_)), "{err:?}");
    }

    #[tokio::test]
    async fn unsupported_keys_are_refused() {
        for (name, csr, needle) in [
            ("rsa1024", RSA1024_CSR, "1024-bit RSA"),
            ("secp256k1", SECP256K1_CSR, "curve"),
            ("ed448", ED448_CSR, "key algorithm"),
        ] {
            let err = refuse(csr).await;
            match &err {
                CsrError::UnsupportedKey(msg) => assert!(msg.contains(needle), "{name}: {msg}"),
                other => panic!("{name}: expected UnsupportedKey, got {other:?}"),
            }
            assert!(err.to_string().contains("accepted: Ed25519"), "{err}");
        }
    }
}

// ---- the CA itself ------------------------------------------------------------------------------
mod certs_ca {
    use super::*;

    #[tokio::test]
    async fn ca_certificate_has_the_promised_shape() {
        for (alg, expected) in [
            ("ed25519", CaAlgorithm::Ed25519),
            ("p256", CaAlgorithm::P256),
        ] {
            let now = now();
            let store = KeyStore::default();
            let master = MasterKey::generate();
            let ca = CertificateAuthority::load_or_create(&store, &master, &cfg(alg), now)
                .await
                .expect("CA");
            assert_eq!(ca.algorithm(), expected);
            let der = pem_der(ca.ca_certificate_pem());
            let (_, cert) = X509Certificate::from_der(&der).expect("cert");
            cert.verify_signature(None).expect("self-signed");
            let cns: Vec<_> = cert
                .subject()
                .iter_common_name()
                .map(|a| a.as_str().expect("cn"))
                .collect();
            assert_eq!(cns, vec!["Test Portcullis CA"]);
            assert_eq!(cert.subject().as_raw(), cert.issuer().as_raw());
            let bc = cert
                .basic_constraints()
                .expect("bc")
                .expect("bc present")
                .value;
            assert!(bc.ca);
            assert_eq!(bc.path_len_constraint, Some(0));
            let ku = cert.key_usage().expect("ku").expect("ku present").value;
            assert!(ku.key_cert_sign() && ku.crl_sign());
            assert!(!ku.digital_signature());
            let years = (cert.validity().not_after.timestamp() - now.timestamp()) / (365 * 86400);
            assert_eq!(years, 10);
            // Stored as promised.
            let keys = store.keys.lock().expect("lock").clone();
            assert_eq!(keys.len(), 1);
            assert_eq!(keys[0].purpose, KeyPurpose::CertificateAuthority);
            assert_eq!(keys[0].kid, ca.kid());
            assert_eq!(keys[0].algorithm, alg);
            assert_eq!(keys[0].public, ca.ca_certificate_pem().as_bytes());
            assert!(
                master
                    .open(keys[0].kid.as_bytes(), &keys[0].sealed_private)
                    .is_ok()
            );
            assert!(master.open(b"other-kid", &keys[0].sealed_private).is_err());
        }
    }

    #[tokio::test]
    async fn load_or_create_twice_returns_the_same_ca() {
        let (store, master, first) = new_ca("ed25519").await;
        // Even with another algorithm configured, the stored CA is kept.
        let second = CertificateAuthority::load_or_create(&store, &master, &cfg("p256"), now())
            .await
            .expect("reload");
        assert_eq!(first.kid(), second.kid());
        assert_eq!(first.ca_certificate_pem(), second.ca_certificate_pem());
        assert_eq!(second.algorithm(), CaAlgorithm::Ed25519);
        assert_eq!(store.keys.lock().expect("lock").len(), 1);
        // The reloaded key signs certificates that verify against the first instance's certificate.
        let csr = rcgen_csr(&rcgen::PKCS_ED25519);
        let who = subject();
        let now = now();
        let cert = second
            .sign_csr(&csr, &who, now + Duration::hours(2), now)
            .expect("signed");
        check_issued(&first, &csr, &cert, &who, now, now + Duration::hours(2));
    }

    #[tokio::test]
    async fn wrong_master_key_fails_clearly() {
        let (store, _master, first) = new_ca("ed25519").await;
        let err = CertificateAuthority::load_or_create(
            &store,
            &MasterKey::generate(),
            &cfg("ed25519"),
            now(),
        )
        .await
        .expect_err("wrong master key");
        match &err {
            CertError::Unseal { kid } => assert_eq!(kid, first.kid()),
            other => panic!("expected Unseal, got {other:?}"),
        }
        assert!(err.to_string().contains("wrong master key"), "{err}");
        // Nothing was replaced.
        assert_eq!(store.keys.lock().expect("lock").len(), 1);
    }

    #[tokio::test]
    async fn unknown_algorithm_is_a_config_error() {
        let store = KeyStore::default();
        let err = CertificateAuthority::load_or_create(
            &store,
            &MasterKey::generate(),
            &cfg("rsa"),
            now(),
        )
        .await
        .expect_err("bad config");
        assert!(matches!(err, CertError::Config(_)), "{err:?}");
    }

    #[tokio::test]
    async fn swapped_certificate_is_detected() {
        let (store, master, _ca) = new_ca("ed25519").await;
        let (_s2, _m2, other) = new_ca("ed25519").await;
        store.keys.lock().expect("lock")[0].public = other.ca_certificate_pem().as_bytes().to_vec();
        let err = CertificateAuthority::load_or_create(&store, &master, &cfg("ed25519"), now())
            .await
            .expect_err("mismatch");
        assert!(matches!(err, CertError::Corrupt { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn expired_ca_is_replaced_and_retired() {
        let store = KeyStore::default();
        let master = MasterKey::generate();
        let long_ago = now() - Duration::days(3660);
        let old = CertificateAuthority::load_or_create(&store, &master, &cfg("ed25519"), long_ago)
            .await
            .expect("old CA");
        let new = CertificateAuthority::load_or_create(&store, &master, &cfg("ed25519"), now())
            .await
            .expect("new CA");
        assert_ne!(old.kid(), new.kid());
        let keys = store.keys.lock().expect("lock").clone();
        assert_eq!(keys.len(), 2);
        let old_rec = keys.iter().find(|k| k.kid == old.kid()).expect("old");
        assert!(old_rec.retired_at.is_some());
        let new_rec = keys.iter().find(|k| k.kid == new.kid()).expect("new");
        assert!(new_rec.retired_at.is_none());
    }

    #[tokio::test]
    async fn expired_ca_with_wrong_master_key_is_not_replaced() {
        let store = KeyStore::default();
        let master = MasterKey::generate();
        let long_ago = now() - Duration::days(3660);
        CertificateAuthority::load_or_create(&store, &master, &cfg("ed25519"), long_ago)
            .await
            .expect("old CA");
        let err = CertificateAuthority::load_or_create(
            &store,
            &MasterKey::generate(),
            &cfg("ed25519"),
            now(),
        )
        .await
        .expect_err("wrong master key");
        assert!(matches!(err, CertError::Unseal { .. }), "{err:?}");
        let keys = store.keys.lock().expect("lock").clone();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].retired_at.is_none());
    }

    #[tokio::test]
    async fn concurrently_created_cas_converge_on_the_oldest() {
        // Two processes raced on an empty store: two active CA keys.
        let store = KeyStore::default();
        let master = MasterKey::generate();
        let t0 = now();
        let a = CertificateAuthority::load_or_create(&store, &master, &cfg("ed25519"), t0)
            .await
            .expect("a");
        let other_store = KeyStore::default();
        let b = CertificateAuthority::load_or_create(
            &other_store,
            &master,
            &cfg("ed25519"),
            t0 + Duration::seconds(1),
        )
        .await
        .expect("b");
        let b_rec = other_store.keys.lock().expect("lock")[0].clone();
        store.keys.lock().expect("lock").push(b_rec);

        let loaded = CertificateAuthority::load_or_create(&store, &master, &cfg("ed25519"), now())
            .await
            .expect("loaded");
        assert_eq!(loaded.kid(), a.kid());
        let keys = store.keys.lock().expect("lock").clone();
        let b_after = keys.iter().find(|k| k.kid == b.kid()).expect("b");
        assert!(b_after.retired_at.is_some());
    }

    #[test]
    fn the_ca_can_be_shared_between_tasks() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<CertificateAuthority>();
    }
}
