//! IDL module `common` (common.thrift).

use portcullis_thrift::{thrift_enum, thrift_struct};

/// `common.MAJOR_VERSION`.
pub const MAJOR_VERSION: i32 = 1;
/// `common.MINOR_VERSION`.
pub const MINOR_VERSION: i32 = 22;
/// `common.PATCH_VERSION`.
pub const PATCH_VERSION: i32 = 13;

thrift_enum! {
    /// Error codes carried in `SystemException.errorCode`.
    pub enum ErrorCode {
        BAD_REQUEST = 400,
        UNAUTHORIZED = 401,
        FORBIDDEN = 403,
        NOT_FOUND = 404,
        PRECONDITION_FAILED = 412,
        WRONG_STATE = 413,
        NOOP = 414,
        INVALID_VERSION = 420,
        UNSUPPORTED_VERSION = 421,
        JOB_NOT_ACTIVE = 422,
        USER_NOT_ASSIGNED_TO_JOB = 423,
        INSUFFICIENT_ROLE_PERMISSIONS = 424,
        INVALID_REGION = 430,
        REVERT_DISALLOWED = 440,
        MISSING_METADATA = 472,
        USER_ALREADY_PART_OF_TEAM = 473,
        ACCOUNT_UNVALIDATED = 474,
        TEAM_ALREADY_EXISTS = 475,
        INSUFFICIENT_PERMISSIONS = 476,
        INVALID_TOKEN = 497,
        TOKEN_EXPIRED = 498,
        UNKNOWN_ERROR = 499,
        INTERNAL_SERVER_ERROR = 500,
        SERVICE_UNAVAILABLE = 503,
        NOT_ALLOWED = 550,
        TEMPLATE_NOT_LOCKED = 600,
        RESOURCE_ARCHIVED = 601,
    }
}

thrift_struct! {
    /// exception `SystemException`: the declared error (`err`, result field 1) of every function.
    pub struct SystemException {
        1: error_code "errorCode": ErrorCode,
        2: message "message": String,
        3: localized_message "localizedMessage": String,
        4: slug "slug": String,
        5: rq_id "rqId": String,
        6: optional error_key "errorKey": String,
    }
}
