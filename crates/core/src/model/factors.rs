//! Second factors, recovery codes, the per-org MFA policy, and the one pure rule that says what a
//! sign-in needs after its first factor (docs/design/mfa.md).

use super::*;

/// RFC 8176 method references Portcullis writes into a session's `amr`.
pub mod amr {
    /// Password.
    pub const PWD: &str = "pwd";
    /// One-time password (RFC 6238 TOTP).
    pub const OTP: &str = "otp";
    /// Multiple factors were used.
    pub const MFA: &str = "mfa";
    /// Proof of possession of a hardware-secured key (a passkey on a security key).
    pub const HWK: &str = "hwk";
    /// Proof of possession of a software-secured key (a synced passkey).
    pub const SWK: &str = "swk";
}

/// The kind of a second factor.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum FactorKind {
    /// RFC 6238 time-based one-time codes.
    Totp,
    /// A WebAuthn credential (passkey).
    Webauthn,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Totp => "totp",
            FactorKind::Webauthn => "webauthn",
        }
    }

    pub fn parse(s: &str) -> Option<FactorKind> {
        match s {
            "totp" => Some(FactorKind::Totp),
            "webauthn" => Some(FactorKind::Webauthn),
            _ => None,
        }
    }
}

/// A stored second factor. `secret` is sealed under the master key (TOTP); `credential_id` and
/// `credential` hold a WebAuthn credential. `counter` is the last accepted TOTP time step, or
/// the authenticator's signature counter.
#[derive(Clone, PartialEq, Eq)]
pub struct Factor {
    pub id: FactorId,
    pub user_id: UserId,
    pub kind: FactorKind,
    pub name: String,
    pub secret: Option<Vec<u8>>,
    pub credential_id: Option<String>,
    pub credential: Option<String>,
    pub counter: i64,
    /// `None`: an enrolment not yet confirmed, never usable to sign in.
    pub confirmed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl Factor {
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

impl fmt::Debug for Factor {
    // The sealed secret stays out of logs even sealed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Factor")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("counter", &self.counter)
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

/// An org's `mfa` setting, in increasing strictness.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum MfaMode {
    /// No second factor is asked at sign-in (but a super-admin's, once enrolled).
    Off,
    /// Members may enrol; a member with a factor is asked for it at every sign-in.
    #[default]
    Optional,
    /// Every member must have a factor; one without is sent through enrolment.
    Required,
}

impl MfaMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMode::Off => "off",
            MfaMode::Optional => "optional",
            MfaMode::Required => "required",
        }
    }
}

impl FromStr for MfaMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(MfaMode::Off),
            "optional" => Ok(MfaMode::Optional),
            "required" => Ok(MfaMode::Required),
            _ => Err(format!(
                "unknown mfa mode {s:?} (expected off, optional or required)"
            )),
        }
    }
}

/// An org's MFA policy. Orgs without a stored policy have the default (optional, TOTP allowed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaPolicy {
    pub mode: MfaMode,
    /// Refuse TOTP (enrolment and use): passkeys only, for phishing resistance.
    pub passkeys_only: bool,
}

impl MfaPolicy {
    /// The strictest of several orgs' policies: the highest mode, passkeys only if any says so.
    /// No org at all: the default.
    pub fn strictest(policies: &[MfaPolicy]) -> MfaPolicy {
        policies
            .iter()
            .fold(policies.first().copied().unwrap_or_default(), |acc, p| {
                MfaPolicy {
                    mode: acc.mode.max(p.mode),
                    passkeys_only: acc.passkeys_only || p.passkeys_only,
                }
            })
    }

    /// Whether a factor of this kind may be enrolled or used.
    pub fn allows(&self, kind: FactorKind) -> bool {
        !(self.passkeys_only && kind == FactorKind::Totp)
    }

    /// The kinds a user under this policy may enrol.
    pub fn enrollable(&self) -> Vec<FactorKind> {
        [FactorKind::Totp, FactorKind::Webauthn]
            .into_iter()
            .filter(|k| self.allows(*k))
            .collect()
    }
}

/// What the store knows of one user's MFA standing, read in one go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MfaState {
    /// Confirmed and pending factors, oldest first.
    pub factors: Vec<Factor>,
    /// The policies of the orgs the user is an active member of (enabled orgs only).
    pub policies: Vec<MfaPolicy>,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
}

/// What a sign-in needs after its first factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MfaRequirement {
    /// Nothing more: the first factor signs in.
    None,
    /// One of these factor kinds, or a recovery code when `recovery_codes` is set.
    SecondFactor {
        kinds: Vec<FactorKind>,
        recovery_codes: bool,
    },
    /// The policy requires a factor the user does not have: enrol one of these kinds first.
    Enrolment { kinds: Vec<FactorKind> },
}

impl MfaState {
    /// The org policy that applies to the user: the strictest of their orgs'.
    pub fn policy(&self) -> MfaPolicy {
        MfaPolicy::strictest(&self.policies)
    }

    /// Confirmed factors the policy lets the user sign in with.
    pub fn usable(&self) -> impl Iterator<Item = &Factor> {
        let policy = self.policy();
        self.factors
            .iter()
            .filter(move |f| f.is_confirmed() && policy.allows(f.kind))
    }

    /// The rule (docs/design/mfa.md): a user with a usable factor is asked for it unless every
    /// org has MFA off, and a super-admin always once one is enrolled; a user without one
    /// under a `required` policy must enrol.
    pub fn requirement(&self, super_admin: bool) -> MfaRequirement {
        let policy = self.policy();
        let mut kinds: Vec<FactorKind> = self.usable().map(|f| f.kind).collect();
        kinds.sort();
        kinds.dedup();
        if !kinds.is_empty() && (policy.mode != MfaMode::Off || super_admin) {
            return MfaRequirement::SecondFactor {
                kinds,
                recovery_codes: self.recovery_codes_left > 0,
            };
        }
        if kinds.is_empty() && policy.mode == MfaMode::Required {
            return MfaRequirement::Enrolment {
                kinds: policy.enrollable(),
            };
        }
        MfaRequirement::None
    }
}

/// Whether a session's `amr` already shows a second factor.
pub fn amr_has_second_factor(amr: &[String]) -> bool {
    amr.iter().any(|m| m == amr::MFA)
}

/// Which step of a stopped sign-in a challenge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaChallengeKind {
    /// Waiting for a second factor.
    Verify,
    /// Waiting for the enrolment of a first factor (policy `required`).
    Enrol,
}

impl MfaChallengeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaChallengeKind::Verify => "verify",
            MfaChallengeKind::Enrol => "enrol",
        }
    }

    pub fn parse(s: &str) -> Option<MfaChallengeKind> {
        match s {
            "verify" => Some(MfaChallengeKind::Verify),
            "enrol" => Some(MfaChallengeKind::Enrol),
            _ => None,
        }
    }
}

/// A stored, stopped sign-in (`mfa_challenges`): keyed by the hex SHA-256 of the handle the
/// client holds; `login` says how the sign-in continues (the core's JSON, opaque to the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallengeRecord {
    pub key_hash: String,
    pub user_id: UserId,
    pub kind: MfaChallengeKind,
    pub login: serde_json::Value,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A WebAuthn ceremony in progress (`webauthn_ceremonies`): keyed by the hex SHA-256 of the
/// handle the client holds, single use. `state` is the relying-party library's state (JSON,
/// opaque to the store); `user_id` is `None` for a passwordless sign-in; `binding` names what
/// started it (a session, a stopped sign-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnCeremonyRecord {
    pub key_hash: String,
    pub user_id: Option<UserId>,
    pub purpose: String,
    pub binding: Option<String>,
    pub state: serde_json::Value,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factor(kind: FactorKind, confirmed: bool) -> Factor {
        let now = Utc::now();
        Factor {
            id: FactorId::new(),
            user_id: UserId::new(),
            kind,
            name: "f".into(),
            secret: None,
            credential_id: None,
            credential: None,
            counter: 0,
            confirmed_at: confirmed.then_some(now),
            created_at: now,
            last_used_at: None,
        }
    }

    fn policy(mode: MfaMode, passkeys_only: bool) -> MfaPolicy {
        MfaPolicy {
            mode,
            passkeys_only,
        }
    }

    #[test]
    fn strictest_policy_wins() {
        let p = MfaPolicy::strictest(&[
            policy(MfaMode::Off, false),
            policy(MfaMode::Required, false),
            policy(MfaMode::Optional, true),
        ]);
        assert_eq!(p, policy(MfaMode::Required, true));
        assert_eq!(MfaPolicy::strictest(&[]), MfaPolicy::default());
        assert_eq!(MfaPolicy::default().mode, MfaMode::Optional);
    }

    #[test]
    fn requirement_follows_the_rule() {
        let totp = factor(FactorKind::Totp, true);
        let mut s = MfaState::default();
        assert_eq!(s.requirement(false), MfaRequirement::None);
        s.policies = vec![policy(MfaMode::Required, false)];
        assert_eq!(
            s.requirement(false),
            MfaRequirement::Enrolment {
                kinds: vec![FactorKind::Totp, FactorKind::Webauthn]
            }
        );
        // A pending enrolment is not a factor.
        s.factors = vec![factor(FactorKind::Totp, false)];
        assert!(matches!(
            s.requirement(false),
            MfaRequirement::Enrolment { .. }
        ));
        s.factors = vec![totp.clone()];
        s.recovery_codes_left = 3;
        assert_eq!(
            s.requirement(false),
            MfaRequirement::SecondFactor {
                kinds: vec![FactorKind::Totp],
                recovery_codes: true
            }
        );
        // Off: not asked, but a super-admin is.
        s.policies = vec![policy(MfaMode::Off, false)];
        assert_eq!(s.requirement(false), MfaRequirement::None);
        assert!(matches!(
            s.requirement(true),
            MfaRequirement::SecondFactor { .. }
        ));
        // Passkeys only: TOTP does not count, so a required policy asks for a passkey.
        s.policies = vec![policy(MfaMode::Required, true)];
        assert_eq!(
            s.requirement(false),
            MfaRequirement::Enrolment {
                kinds: vec![FactorKind::Webauthn]
            }
        );
    }

    #[test]
    fn names_round_trip() {
        for k in [FactorKind::Totp, FactorKind::Webauthn] {
            assert_eq!(FactorKind::parse(k.as_str()), Some(k));
        }
        for m in [MfaMode::Off, MfaMode::Optional, MfaMode::Required] {
            assert_eq!(m.as_str().parse::<MfaMode>(), Ok(m));
        }
        assert!("sometimes".parse::<MfaMode>().is_err());
        for k in [MfaChallengeKind::Verify, MfaChallengeKind::Enrol] {
            assert_eq!(MfaChallengeKind::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn only_mfa_in_amr_counts() {
        assert!(amr_has_second_factor(&[
            "pwd".into(),
            "otp".into(),
            "mfa".into()
        ]));
        assert!(!amr_has_second_factor(&["pwd".into()]));
        assert!(!amr_has_second_factor(&["fed".into()]));
    }
}
