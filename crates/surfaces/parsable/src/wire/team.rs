//! IDL modules `team`, `job`, `job_role` and `setting`.

use portcullis_thrift::thrift_struct;

thrift_struct! {
    /// `team.Region`.
    pub struct Region {
        1: id "id": String,
        2: api_host "apiHost": String,
        3: sig_host "sigHost": String,
        4: static_host "staticHost": String,
    }
}

thrift_struct! {
    /// `job.PriorityLevel`.
    pub struct PriorityLevel {
        1: priority "priority": i32,
        2: title "title": String,
        3: id "id": String,
        4: archived_at "archivedAt": i64,
    }
}

thrift_struct! {
    /// `setting.Reference` (this project's own shape).
    pub struct Reference {
        1: id "id": String,
        2: optional kind "kind": String,
        3: optional label "label": String,
    }
}

thrift_struct! {
    /// `job_role.StepPermissions`.
    pub struct StepPermissions {
        1: add_and_duplicate_steps "addAndDuplicateSteps": bool,
        2: add_and_duplicate_step_groups "addAndDuplicateStepGroups": bool,
        3: mark_steps_na "markStepsNA": bool,
        4: send_field_input "sendFieldInput": bool,
        5: complete_steps "completeSteps": bool,
    }
}

thrift_struct! {
    /// `job_role.UserPermissions`.
    pub struct UserPermissions {
        1: invite_users "inviteUsers": bool,
        2: remove_users "removeUsers": bool,
    }
}

thrift_struct! {
    /// `job_role.TemplatePermissions`.
    pub struct TemplatePermissions {
        1: add_templates "addTemplates": bool,
        2: add_sets "addSets": bool,
    }
}

thrift_struct! {
    /// `job_role.DocumentPermissions`.
    pub struct DocumentPermissions {
        1: add "add": bool,
        2: remove "remove": bool,
    }
}

thrift_struct! {
    /// `job_role.IssuePermissions`.
    pub struct IssuePermissions {
        1: create "create": bool,
        2: resolve "resolve": bool,
        3: invite_users "inviteUsers": bool,
        4: remove_users "removeUsers": bool,
    }
}

thrift_struct! {
    /// `job_role.JobPermissions`: what a user may do on jobs of one team.
    pub struct JobPermissions {
        1: edit_title "editTitle": bool,
        2: edit_metadata "editMetadata": bool,
        3: complete "complete": bool,
        4: uncomplete "uncomplete": bool,
        101: step "step": StepPermissions,
        102: user "user": UserPermissions,
        103: template "template": TemplatePermissions,
        104: doc "doc": DocumentPermissions,
        105: optional issue "issue": IssuePermissions,
    }
}
