//! IDL modules `user` (user.thrift) and `abac` (abac.thrift).

use std::collections::BTreeMap;

use portcullis_thrift::{thrift_enum, thrift_struct};

thrift_enum! {
    /// Role of a user within one team.
    pub enum TeamRole {
        ADMIN = 1,
        AUTHOR = 2,
        JOBCREATOR = 3,
        EXECUTOR = 4,
        PARSABLE_ADMIN = 5,
    }
}

thrift_struct! {
    /// `abac.AbacAttributeValue`.
    pub struct AbacAttributeValue {
        1: id "id": String,
        2: label "label": String,
    }
}

thrift_struct! {
    /// `abac.AbacAttribute`.
    pub struct AbacAttribute {
        1: id "id": String,
        2: label "label": String,
        3: values "values": Vec<AbacAttributeValue>,
    }
}

thrift_struct! {
    /// `user.User`: public profile of an account.
    pub struct User {
        1: id "id": String,
        2: email "email": String,
        3: name "name": String,
        4: validated_at "validatedAt": i64,
    }
}

thrift_struct! {
    /// `user.TeamMembership`.
    pub struct TeamMembership {
        1: added_at "addedAt": i64,
        2: updated_at "updatedAt": i64,
        3: removed_at "removedAt": i64,
        4: roles "roles": Vec<TeamRole>,
    }
}

thrift_struct! {
    /// `user.UserStats`.
    pub struct UserStats {
        1: completed_jobs "completedJobs": i32,
        2: active_jobs "activeJobs": i32,
    }
}

thrift_struct! {
    /// `user.UserModular`: user plus optional per-team detail.
    pub struct UserModular {
        1: id "id": String,
        2: email "email": String,
        3: name "name": String,
        4: validated_at "validatedAt": i64,
        101: optional team_id_to_membership "teamIdToMembership": BTreeMap<String, TeamMembership>,
        102: optional team_id_to_stats "teamIdToStats": BTreeMap<String, UserStats>,
        103: optional team_id_to_attributes "teamIdToAttributes": BTreeMap<String, Vec<AbacAttribute>>,
    }
}
