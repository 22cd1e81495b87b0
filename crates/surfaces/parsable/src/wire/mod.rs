//! Wire layer of the Parsable surface: every IDL type (described once with
//! `portcullis_thrift::thrift_struct!` / `thrift_enum!`) and a typed front door:
//!
//! * [`select_encoding`]: which encoding a request uses and the reply's Content-Type;
//! * [`decode_call`]: request body → ([`CallHeader`], [`Call`]) or a ready TAE [`Rejection`];
//! * [`encode_reply`]: [`Outcome`] → reply body; [`encode_exception`]: TAE reply body.

mod authentication;
mod common;
mod service;
mod team;
mod user;

pub use authentication::*;
pub use common::*;
pub use service::*;
pub use team::*;
pub use user::*;

pub use portcullis_thrift::message::{CT_JSON_UTF8, CT_MOTHERSHIP_COMPACT, CT_THRIFT, CT_TJSON};
pub use portcullis_thrift::{
    ContentTypeError, DecodeError, Encoding, EncodingChoice, MessageHeader, TaeType,
    select_encoding,
};

use portcullis_thrift::{ThriftType, decode_message};

/// The functions of `AuthenticationService`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `login`
    Login,
    /// `loginWithSSO`
    LoginWithSso,
    /// `loginWithTeamSelect`
    LoginWithTeamSelect,
    /// `loginWithIdp`
    LoginWithIdp,
    /// `loginWithIdpAndTeam`
    LoginWithIdpAndTeam,
    /// `loginWithIdpAndTeamSelect`
    LoginWithIdpAndTeamSelect,
    /// `logout`
    Logout,
    /// `createTeamToken`
    CreateTeamToken,
    /// `loginWithToken`
    LoginWithToken,
    /// `startLogin`
    StartLogin,
    /// `refresh`
    Refresh,
    /// `getCurrentUser`
    GetCurrentUser,
    /// `createPersistentAuth`
    CreatePersistentAuth,
    /// `revokePersistentAuth`
    RevokePersistentAuth,
    /// `fetchPersistentAuthTokensMeta`
    FetchPersistentAuthTokensMeta,
}

impl Method {
    /// Every function, in IDL order.
    pub const ALL: [Method; 15] = [
        Method::Login,
        Method::LoginWithSso,
        Method::LoginWithTeamSelect,
        Method::LoginWithIdp,
        Method::LoginWithIdpAndTeam,
        Method::LoginWithIdpAndTeamSelect,
        Method::Logout,
        Method::CreateTeamToken,
        Method::LoginWithToken,
        Method::StartLogin,
        Method::Refresh,
        Method::GetCurrentUser,
        Method::CreatePersistentAuth,
        Method::RevokePersistentAuth,
        Method::FetchPersistentAuthTokensMeta,
    ];

    /// The IDL name (wire name) of the function.
    pub const fn name(self) -> &'static str {
        match self {
            Method::Login => "login",
            Method::LoginWithSso => "loginWithSSO",
            Method::LoginWithTeamSelect => "loginWithTeamSelect",
            Method::LoginWithIdp => "loginWithIdp",
            Method::LoginWithIdpAndTeam => "loginWithIdpAndTeam",
            Method::LoginWithIdpAndTeamSelect => "loginWithIdpAndTeamSelect",
            Method::Logout => "logout",
            Method::CreateTeamToken => "createTeamToken",
            Method::LoginWithToken => "loginWithToken",
            Method::StartLogin => "startLogin",
            Method::Refresh => "refresh",
            Method::GetCurrentUser => "getCurrentUser",
            Method::CreatePersistentAuth => "createPersistentAuth",
            Method::RevokePersistentAuth => "revokePersistentAuth",
            Method::FetchPersistentAuthTokensMeta => "fetchPersistentAuthTokensMeta",
        }
    }

    /// Looks a function up by its wire name (case-sensitive).
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// A decoded call: one variant per IDL function, carrying its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Login(LoginArgs),
    LoginWithSso(LoginWithSsoArgs),
    LoginWithTeamSelect(LoginWithTeamSelectArgs),
    LoginWithIdp(LoginWithIdpArgs),
    LoginWithIdpAndTeam(LoginWithIdpAndTeamArgs),
    LoginWithIdpAndTeamSelect(LoginWithIdpAndTeamSelectArgs),
    Logout,
    CreateTeamToken(CreateTeamTokenArgs),
    LoginWithToken(LoginWithTokenArgs),
    StartLogin(StartLoginArgs),
    Refresh,
    GetCurrentUser,
    CreatePersistentAuth(CreatePersistentAuthArgs),
    RevokePersistentAuth(RevokePersistentAuthArgs),
    FetchPersistentAuthTokensMeta(FetchPersistentAuthTokensMetaArgs),
}

impl Call {
    /// The function called.
    pub fn method(&self) -> Method {
        match self {
            Call::Login(_) => Method::Login,
            Call::LoginWithSso(_) => Method::LoginWithSso,
            Call::LoginWithTeamSelect(_) => Method::LoginWithTeamSelect,
            Call::LoginWithIdp(_) => Method::LoginWithIdp,
            Call::LoginWithIdpAndTeam(_) => Method::LoginWithIdpAndTeam,
            Call::LoginWithIdpAndTeamSelect(_) => Method::LoginWithIdpAndTeamSelect,
            Call::Logout => Method::Logout,
            Call::CreateTeamToken(_) => Method::CreateTeamToken,
            Call::LoginWithToken(_) => Method::LoginWithToken,
            Call::StartLogin(_) => Method::StartLogin,
            Call::Refresh => Method::Refresh,
            Call::GetCurrentUser => Method::GetCurrentUser,
            Call::CreatePersistentAuth(_) => Method::CreatePersistentAuth,
            Call::RevokePersistentAuth(_) => Method::RevokePersistentAuth,
            Call::FetchPersistentAuthTokensMeta(_) => Method::FetchPersistentAuthTokensMeta,
        }
    }
}

/// Name and sequence id of a decoded call, echoed by its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallHeader {
    pub method: Method,
    pub seqid: i32,
}

impl CallHeader {
    /// The envelope header a reply to this call carries.
    pub fn message_header(&self) -> MessageHeader {
        MessageHeader {
            name: self.method.name().to_owned(),
            seqid: self.seqid,
            message_type: 1,
        }
    }
}

/// A request answered with a TApplicationException instead of reaching a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Name and seqid echoed (name `""`, seqid 0 when the header was undecodable).
    pub header: MessageHeader,
    /// TAE type: 1 UNKNOWN_METHOD, 2 INVALID_MESSAGE_TYPE or 7 PROTOCOL_ERROR.
    pub kind: TaeType,
    /// Human-readable message sent in the TAE.
    pub message: String,
    /// The encoded reply body (in the request's encoding), ready to send with HTTP 200.
    pub body: Vec<u8>,
}

fn reject(encoding: Encoding, header: MessageHeader, kind: TaeType, message: String) -> Rejection {
    let body = portcullis_thrift::encode_exception(encoding, &header, kind, &message);
    Rejection {
        header,
        kind,
        message,
        body,
    }
}

/// Decodes one request body in `encoding` (PARSABLE.md §2 processing order: header →
/// message type → method lookup → arguments).
pub fn decode_call(encoding: Encoding, body: &[u8]) -> Result<(CallHeader, Call), Rejection> {
    let msg = decode_message(encoding, body).map_err(|e| {
        reject(
            encoding,
            e.header,
            TaeType::PROTOCOL_ERROR,
            format!("Protocol error: {}", e.error),
        )
    })?;
    let header = msg.header.clone();
    if !header.is_call() {
        let message = format!("Invalid message type {}", header.message_type);
        return Err(reject(
            encoding,
            header,
            TaeType::INVALID_MESSAGE_TYPE,
            message,
        ));
    }
    let Some(method) = Method::from_name(&header.name) else {
        let message = format!("Unknown function {}", header.name);
        return Err(reject(encoding, header, TaeType::UNKNOWN_METHOD, message));
    };
    let call = match method {
        Method::Login => msg.decode_body::<LoginArgs>().map(Call::Login),
        Method::LoginWithSso => msg
            .decode_body::<LoginWithSsoArgs>()
            .map(Call::LoginWithSso),
        Method::LoginWithTeamSelect => msg
            .decode_body::<LoginWithTeamSelectArgs>()
            .map(Call::LoginWithTeamSelect),
        Method::LoginWithIdp => msg
            .decode_body::<LoginWithIdpArgs>()
            .map(Call::LoginWithIdp),
        Method::LoginWithIdpAndTeam => msg
            .decode_body::<LoginWithIdpAndTeamArgs>()
            .map(Call::LoginWithIdpAndTeam),
        Method::LoginWithIdpAndTeamSelect => msg
            .decode_body::<LoginWithIdpAndTeamSelectArgs>()
            .map(Call::LoginWithIdpAndTeamSelect),
        Method::Logout => msg.decode_body::<LogoutArgs>().map(|_| Call::Logout),
        Method::CreateTeamToken => msg
            .decode_body::<CreateTeamTokenArgs>()
            .map(Call::CreateTeamToken),
        Method::LoginWithToken => msg
            .decode_body::<LoginWithTokenArgs>()
            .map(Call::LoginWithToken),
        Method::StartLogin => msg.decode_body::<StartLoginArgs>().map(Call::StartLogin),
        Method::Refresh => msg.decode_body::<RefreshArgs>().map(|_| Call::Refresh),
        Method::GetCurrentUser => msg
            .decode_body::<GetCurrentUserArgs>()
            .map(|_| Call::GetCurrentUser),
        Method::CreatePersistentAuth => msg
            .decode_body::<CreatePersistentAuthArgs>()
            .map(Call::CreatePersistentAuth),
        Method::RevokePersistentAuth => msg
            .decode_body::<RevokePersistentAuthArgs>()
            .map(Call::RevokePersistentAuth),
        Method::FetchPersistentAuthTokensMeta => msg
            .decode_body::<FetchPersistentAuthTokensMetaArgs>()
            .map(Call::FetchPersistentAuthTokensMeta),
    };
    match call {
        Ok(call) => Ok((
            CallHeader {
                method,
                seqid: header.seqid,
            },
            call,
        )),
        Err(e) => Err(reject(
            encoding,
            header,
            TaeType::PROTOCOL_ERROR,
            format!("Protocol error: {e}"),
        )),
    }
}

/// Encodes a call as a client sends it (the reverse of [`decode_call`]); the round-trip tests
/// and fuzz targets use it.
pub fn encode_call(encoding: Encoding, header: &CallHeader, call: &Call) -> Vec<u8> {
    fn args<A: ThriftType>(encoding: Encoding, header: &CallHeader, a: &A) -> Vec<u8> {
        portcullis_thrift::encode_call(encoding, &header.message_header(), a)
    }
    match call {
        Call::Login(a) => args(encoding, header, a),
        Call::LoginWithSso(a) => args(encoding, header, a),
        Call::LoginWithTeamSelect(a) => args(encoding, header, a),
        Call::LoginWithIdp(a) => args(encoding, header, a),
        Call::LoginWithIdpAndTeam(a) => args(encoding, header, a),
        Call::LoginWithIdpAndTeamSelect(a) => args(encoding, header, a),
        Call::Logout => args(encoding, header, &LogoutArgs::default()),
        Call::CreateTeamToken(a) => args(encoding, header, a),
        Call::LoginWithToken(a) => args(encoding, header, a),
        Call::StartLogin(a) => args(encoding, header, a),
        Call::Refresh => args(encoding, header, &RefreshArgs::default()),
        Call::GetCurrentUser => args(encoding, header, &GetCurrentUserArgs::default()),
        Call::CreatePersistentAuth(a) => args(encoding, header, a),
        Call::RevokePersistentAuth(a) => args(encoding, header, a),
        Call::FetchPersistentAuthTokensMeta(a) => args(encoding, header, a),
    }
}

/// What a handler produced for a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    LoginResult(LoginResult),
    TeamSelectResult(TeamSelectResult),
    User(User),
    ValidAuthTypes(ValidAuthTypes),
    AuthTokenMetaList(Vec<AuthTokenMetaResult>),
    /// Success of a void function (`logout`, `revokePersistentAuth`).
    Void,
    /// The declared error (`err`, result field 1).
    Err(SystemException),
}

fn reply<R: ThriftType>(encoding: Encoding, header: &CallHeader, r: &R) -> Vec<u8> {
    portcullis_thrift::encode_reply(encoding, &header.message_header(), r)
}

/// Encodes the reply to a call. An outcome whose type does not match the function's
/// return type (a handler bug) is answered with TAE 6 INTERNAL_ERROR.
pub fn encode_reply(encoding: Encoding, header: &CallHeader, outcome: Outcome) -> Vec<u8> {
    use Method as M;
    use Outcome as O;
    match (header.method, outcome) {
        // Field 1 alone: the same bytes as any function's `<fn>_result` with `err` set.
        (_, O::Err(e)) => reply(encoding, header, &VoidReply { err: Some(e) }),
        (M::Logout | M::RevokePersistentAuth, O::Void) => {
            reply(encoding, header, &VoidReply::default())
        }
        (
            M::Login
            | M::LoginWithSso
            | M::LoginWithIdp
            | M::LoginWithIdpAndTeam
            | M::CreateTeamToken
            | M::LoginWithToken
            | M::Refresh
            | M::CreatePersistentAuth,
            O::LoginResult(v),
        ) => reply(encoding, header, &LoginResultReply::ok(v)),
        (M::LoginWithTeamSelect | M::LoginWithIdpAndTeamSelect, O::TeamSelectResult(v)) => {
            reply(encoding, header, &TeamSelectReply::ok(v))
        }
        (M::StartLogin, O::ValidAuthTypes(v)) => {
            reply(encoding, header, &ValidAuthTypesReply::ok(v))
        }
        (M::GetCurrentUser, O::User(v)) => reply(encoding, header, &UserReply::ok(v)),
        (M::FetchPersistentAuthTokensMeta, O::AuthTokenMetaList(v)) => {
            reply(encoding, header, &AuthTokenMetaListReply::ok(v))
        }
        _ => encode_exception(
            encoding,
            header,
            TaeType::INTERNAL_ERROR,
            "Internal error: result does not match the function",
        ),
    }
}

/// Encodes a TApplicationException reply to a decoded call.
pub fn encode_exception(
    encoding: Encoding,
    header: &CallHeader,
    kind: TaeType,
    message: &str,
) -> Vec<u8> {
    portcullis_thrift::encode_exception(encoding, &header.message_header(), kind, message)
}
