//! IAM roles panka makes for the components that run code (ECS tasks, Lambda functions): one
//! role per purpose with a single inline policy named `panka`.

use std::collections::BTreeMap;

use panka_engine::Transient;
use panka_engine::{ErrorKind, ProviderError};
use panka_format::kinds::Permission;
use serde_json::{Value, json};

use crate::errors::aws_error;

/// How long a service is given to see a role just created: it refuses to assume a new role for
/// a few seconds (IAM is eventually consistent). About 30 seconds, every 2.
pub(crate) fn role_propagation() -> backon::ConstantBuilder {
    backon::ConstantBuilder::default()
        .with_delay(std::time::Duration::from_secs(2))
        .with_max_times(15)
}

/// Creates `role` trusting what `trust` (an assume-role policy document) names, or finds it,
/// and sets its inline policy to `statements` (removes it when there are none); returns the
/// role's ARN.
pub(crate) async fn ensure_role(
    iam: &aws_sdk_iam::Client,
    role: &str,
    trust: &str,
    statements: Vec<Value>,
    tags: &BTreeMap<String, String>,
) -> Result<String, ProviderError> {
    let iam_tags: Vec<aws_sdk_iam::types::Tag> = tags
        .iter()
        .filter_map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect();
    let arn = match iam
        .create_role()
        .role_name(role)
        .assume_role_policy_document(trust)
        .description("panka: role of a component")
        .set_tags(Some(iam_tags))
        .send()
        .await
    {
        Ok(r) => r.role().map(|r| r.arn().to_string()).unwrap_or_default(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_already_exists_exception()) =>
        {
            let got = iam
                .get_role()
                .role_name(role)
                .send()
                .await
                .map_err(|e| aws_error(format!("reading IAM role {role}"), e))?;
            got.role().map(|r| r.arn().to_string()).unwrap_or_default()
        }
        Err(e) => return Err(aws_error(format!("creating IAM role {role}"), e)),
    };
    if statements.is_empty() {
        match iam
            .delete_role_policy()
            .role_name(role)
            .policy_name("panka")
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) => {}
            Err(e) => return Err(aws_error(format!("clearing the policy of {role}"), e)),
        }
    } else {
        let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        iam.put_role_policy()
            .role_name(role)
            .policy_name("panka")
            .policy_document(doc)
            .send()
            .await
            .map_err(|e| aws_error(format!("setting the policy of IAM role {role}"), e))?;
    }
    Ok(arn)
}

/// Deletes `role` and its inline policy; a role already gone is fine.
pub(crate) async fn delete_role(
    iam: &aws_sdk_iam::Client,
    role: &str,
) -> Result<(), ProviderError> {
    // IAM refuses to delete a role that still has policies (DeleteConflict): the spec's
    // permissions and managed policies go first.
    // https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteRole.html
    revoke_granted(iam, role).await?;
    let gone = |e: &aws_sdk_iam::Error| matches!(e, aws_sdk_iam::Error::NoSuchEntityException(_));
    if let Err(e) = iam
        .delete_role_policy()
        .role_name(role)
        .policy_name("panka")
        .send()
        .await
    {
        let e = aws_sdk_iam::Error::from(e);
        if !gone(&e) {
            return Err(ProviderError::with_source(
                ErrorKind::Transient(Transient::DependencyNotReady),
                format!("deleting the policy of IAM role {role}"),
                e,
            ));
        }
    }
    if let Err(e) = iam.delete_role().role_name(role).send().await {
        let e = aws_sdk_iam::Error::from(e);
        if !gone(&e) {
            return Err(ProviderError::with_source(
                ErrorKind::Transient(Transient::DependencyNotReady),
                format!("deleting IAM role {role}"),
                e,
            ));
        }
    }
    Ok(())
}

// ------------------------------------------------------------- permissions a spec grants

/// The inline policy holding the statements of a spec's `permissions`, beside `panka` (the
/// statements panka infers), so that each reads back on its own.
pub(crate) const PERMISSIONS_POLICY: &str = "panka-permissions";

/// What a spec grants a role besides the inferred statements: its `permissions` and the ARNs
/// of its `managedPolicies`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Grants {
    pub permissions: Vec<Permission>,
    pub managed_policies: Vec<String>,
}

/// One `Allow` statement per permission, in the spec's order.
pub(crate) fn permission_statements(permissions: &[Permission]) -> Vec<Value> {
    permissions
        .iter()
        .map(|p| json!({"Effect": "Allow", "Action": p.actions, "Resource": p.resources}))
        .collect()
}

/// The permissions of a policy document as IAM returns it (GetRolePolicy answers it
/// URL-encoded, RFC 3986; emulators may answer it as written): the inverse of
/// [`permission_statements`]. A statement that is not an `Allow` of actions on resources (one
/// written outside panka) reads as its actions and resources all the same, so it shows as a
/// change. `allowWildcard` is a validation switch, not an IAM setting: it reads as `false`.
/// https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html
pub(crate) fn permissions_of(document: &str) -> Vec<Permission> {
    let parsed: Option<Value> = serde_json::from_str(document)
        .ok()
        .or_else(|| serde_json::from_str(&percent_decode(document)).ok());
    let Some(doc) = parsed else {
        return Vec::new();
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    // IAM takes a single action or resource as a string or a one-item list.
    let strings = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    };
    statements
        .iter()
        .map(|st| Permission {
            actions: strings(st.get("Action")),
            resources: strings(st.get("Resource")),
            allow_wildcard: false,
        })
        .collect()
}

/// `%XX` sequences decoded (RFC 3986 percent-encoding); text that is not valid UTF-8 after
/// decoding is returned as it was.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or_default() * 16 + hex(l).unwrap_or_default()) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

/// Brings `role` to what a spec grants: its `panka-permissions` inline policy holds exactly
/// the statements of `grants.permissions` (removed when there are none), and exactly the
/// managed policies of `grants.managed_policies` are attached (others detached: panka attaches
/// no managed policy of its own to the roles it makes). Safe to repeat: PutRolePolicy replaces,
/// AttachRolePolicy of an attached policy and DetachRolePolicy of a detached one change
/// nothing.
pub(crate) async fn ensure_granted(
    iam: &aws_sdk_iam::Client,
    role: &str,
    grants: &Grants,
) -> Result<(), ProviderError> {
    if grants.permissions.is_empty() {
        delete_permissions_policy(iam, role).await?;
    } else {
        let doc = json!({
            "Version": "2012-10-17",
            "Statement": permission_statements(&grants.permissions),
        })
        .to_string();
        iam.put_role_policy()
            .role_name(role)
            .policy_name(PERMISSIONS_POLICY)
            .policy_document(doc)
            .send()
            .await
            .map_err(|e| aws_error(format!("setting the permissions of IAM role {role}"), e))?;
    }
    let attached = attached_policies(iam, role).await?;
    for arn in &grants.managed_policies {
        if !attached.contains(arn) {
            iam.attach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| {
                    aws_error(
                        format!("attaching managed policy {arn} to IAM role {role}"),
                        e,
                    )
                })?;
        }
    }
    for arn in attached
        .iter()
        .filter(|a| !grants.managed_policies.contains(a))
    {
        detach(iam, role, arn).await?;
    }
    Ok(())
}

/// What `role` is granted besides the inferred statements, as IAM reports it: GetRolePolicy of
/// `panka-permissions` and ListAttachedRolePolicies (every page). `None` when the role is gone.
/// Managed policies come in the order of `recorded` (the ARNs as last applied), then any
/// others in IAM's order.
pub(crate) async fn granted(
    iam: &aws_sdk_iam::Client,
    role: &str,
    recorded: &[String],
) -> Result<Option<Grants>, ProviderError> {
    let permissions = match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(PERMISSIONS_POLICY)
        .send()
        .await
    {
        Ok(p) => permissions_of(p.policy_document()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            // No such policy, or no such role: ListAttachedRolePolicies tells which.
            Vec::new()
        }
        Err(e) => {
            return Err(aws_error(
                format!("reading the permissions of IAM role {role}"),
                e,
            ));
        }
    };
    let attached = match attached_policies(iam, role).await {
        Ok(a) => a,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut managed_policies: Vec<String> = recorded
        .iter()
        .filter(|a| attached.contains(a))
        .cloned()
        .collect();
    managed_policies.extend(attached.into_iter().filter(|a| !recorded.contains(a)));
    Ok(Some(Grants {
        permissions,
        managed_policies,
    }))
}

/// The ARNs of the managed policies attached to `role`, every page, in IAM's order.
/// [`ErrorKind::NotFound`] when the role does not exist.
async fn attached_policies(
    iam: &aws_sdk_iam::Client,
    role: &str,
) -> Result<Vec<String>, ProviderError> {
    let mut arns = Vec::new();
    let mut marker = None;
    loop {
        let page = iam
            .list_attached_role_policies()
            .role_name(role)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| {
                let missing = e
                    .as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception());
                let mut err = aws_error(
                    format!("listing the managed policies of IAM role {role}"),
                    e,
                );
                if missing {
                    err.kind = ErrorKind::NotFound;
                }
                err
            })?;
        arns.extend(
            page.attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn())
                .map(str::to_string),
        );
        marker = page.marker().map(str::to_string);
        if !page.is_truncated() || marker.is_none() {
            return Ok(arns);
        }
    }
}

async fn detach(iam: &aws_sdk_iam::Client, role: &str, arn: &str) -> Result<(), ProviderError> {
    match iam
        .detach_role_policy()
        .role_name(role)
        .policy_arn(arn)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(
            format!("detaching managed policy {arn} from IAM role {role}"),
            e,
        )),
    }
}

async fn delete_permissions_policy(
    iam: &aws_sdk_iam::Client,
    role: &str,
) -> Result<(), ProviderError> {
    match iam
        .delete_role_policy()
        .role_name(role)
        .policy_name(PERMISSIONS_POLICY)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(
            format!("removing the permissions of IAM role {role}"),
            e,
        )),
    }
}

/// Removes what a spec granted `role` (before the role itself goes); a role already gone is
/// fine.
async fn revoke_granted(iam: &aws_sdk_iam::Client, role: &str) -> Result<(), ProviderError> {
    delete_permissions_policy(iam, role).await?;
    let attached = match attached_policies(iam, role).await {
        Ok(a) => a,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for arn in &attached {
        detach(iam, role, arn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_iam::operation::delete_role::DeleteRoleError;
    use aws_sdk_iam::operation::delete_role_policy::{
        DeleteRolePolicyError, DeleteRolePolicyOutput,
    };
    use aws_sdk_iam::operation::list_attached_role_policies::{
        ListAttachedRolePoliciesError, ListAttachedRolePoliciesOutput,
    };
    use aws_sdk_iam::types::AttachedPolicy;
    use aws_sdk_iam::types::error::NoSuchEntityException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    const OLD: &str = "arn:aws:iam::123456789012:policy/old";
    const KEEP: &str = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess";
    const NEW: &str = "arn:aws:iam::123456789012:policy/shop/new";

    fn gone() -> NoSuchEntityException {
        NoSuchEntityException::builder()
            .message("The role with name r cannot be found.")
            .build()
    }

    /// The requests IAM receives for a spec's grants: PutRolePolicy of exactly its statements,
    /// AttachRolePolicy of the policy not attached yet, DetachRolePolicy of the one it no longer
    /// lists, nothing for the one kept.
    /// https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html
    /// https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachRolePolicy.html
    /// https://docs.aws.amazon.com/IAM/latest/APIReference/API_DetachRolePolicy.html
    #[tokio::test]
    async fn grants_are_brought_to_the_spec() {
        let put_docs = Arc::new(Mutex::new(Vec::new()));
        let attached_arns = Arc::new(Mutex::new(Vec::new()));
        let detached_arns = Arc::new(Mutex::new(Vec::new()));
        let (p, a, d) = (
            put_docs.clone(),
            attached_arns.clone(),
            detached_arns.clone(),
        );
        let put = mock!(aws_sdk_iam::Client::put_role_policy)
            .match_requests(|r| {
                r.role_name() == Some("r") && r.policy_name() == Some(PERMISSIONS_POLICY)
            })
            .then_compute_output(move |r| {
                p.lock()
                    .unwrap()
                    .push(r.policy_document().unwrap_or_default().to_string());
                aws_sdk_iam::operation::put_role_policy::PutRolePolicyOutput::builder().build()
            });
        let list = mock!(aws_sdk_iam::Client::list_attached_role_policies).then_output(|| {
            ListAttachedRolePoliciesOutput::builder()
                .attached_policies(AttachedPolicy::builder().policy_arn(OLD).build())
                .attached_policies(AttachedPolicy::builder().policy_arn(KEEP).build())
                .is_truncated(false)
                .build()
        });
        let attach = mock!(aws_sdk_iam::Client::attach_role_policy).then_compute_output(move |r| {
            a.lock()
                .unwrap()
                .push(r.policy_arn().unwrap_or_default().to_string());
            aws_sdk_iam::operation::attach_role_policy::AttachRolePolicyOutput::builder().build()
        });
        let detach = mock!(aws_sdk_iam::Client::detach_role_policy).then_compute_output(move |r| {
            d.lock()
                .unwrap()
                .push(r.policy_arn().unwrap_or_default().to_string());
            aws_sdk_iam::operation::detach_role_policy::DetachRolePolicyOutput::builder().build()
        });
        let iam = mock_client!(
            aws_sdk_iam,
            RuleMode::MatchAny,
            [&put, &list, &attach, &detach]
        );
        let permissions = vec![Permission {
            actions: vec!["ses:SendEmail".into()],
            resources: vec!["arn:aws:ses:us-east-1:123456789012:identity/example.com".into()],
            allow_wildcard: false,
        }];
        let grants = Grants {
            permissions: permissions.clone(),
            managed_policies: vec![KEEP.into(), NEW.into()],
        };
        ensure_granted(&iam, "r", &grants).await.unwrap();
        let docs = put_docs.lock().unwrap();
        assert_eq!(docs.len(), 1);
        let doc: Value = serde_json::from_str(&docs[0]).unwrap();
        assert_eq!(
            doc,
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ses:SendEmail"],
                 "Resource": ["arn:aws:ses:us-east-1:123456789012:identity/example.com"]}
            ]})
        );
        assert_eq!(permissions_of(&docs[0]), permissions);
        assert_eq!(*attached_arns.lock().unwrap(), [NEW]);
        assert_eq!(*detached_arns.lock().unwrap(), [OLD]);
    }

    /// Without permissions the inline policy goes (already gone is fine); deleting a role that
    /// is gone removes nothing and succeeds.
    /// https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteRolePolicy.html
    #[tokio::test]
    async fn no_permissions_remove_the_policy_and_a_role_already_gone_deletes_cleanly() {
        let deleted = mock!(aws_sdk_iam::Client::delete_role_policy)
            .match_requests(|r| r.policy_name() == Some(PERMISSIONS_POLICY))
            .then_output(|| DeleteRolePolicyOutput::builder().build());
        let none = mock!(aws_sdk_iam::Client::list_attached_role_policies).then_output(|| {
            ListAttachedRolePoliciesOutput::builder()
                .is_truncated(false)
                .build()
        });
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&deleted, &none]);
        ensure_granted(&iam, "r", &Grants::default()).await.unwrap();
        assert_eq!(deleted.num_calls(), 1);

        let policy_gone = mock!(aws_sdk_iam::Client::delete_role_policy)
            .then_error(|| DeleteRolePolicyError::NoSuchEntityException(gone()));
        let list_gone = mock!(aws_sdk_iam::Client::list_attached_role_policies)
            .then_error(|| ListAttachedRolePoliciesError::NoSuchEntityException(gone()));
        let role_gone = mock!(aws_sdk_iam::Client::delete_role)
            .then_error(|| DeleteRoleError::NoSuchEntityException(gone()));
        let iam = mock_client!(
            aws_sdk_iam,
            RuleMode::MatchAny,
            [&policy_gone, &list_gone, &role_gone]
        );
        delete_role(&iam, "r").await.unwrap();
        // `panka-permissions`, then `panka`.
        assert_eq!(policy_gone.num_calls(), 2);
        assert_eq!(role_gone.num_calls(), 1);
    }

    #[test]
    fn permissions_read_back_from_either_encoding() {
        let permissions = vec![
            Permission {
                actions: vec!["ses:SendEmail".into()],
                resources: vec!["arn:aws:ses:us-east-1:123456789012:identity/example.com".into()],
                allow_wildcard: false,
            },
            Permission {
                actions: vec!["s3:Get*".into(), "s3:List*".into()],
                resources: vec![
                    "arn:aws:s3:::shop-assets".into(),
                    "arn:aws:s3:::shop-assets/*".into(),
                ],
                allow_wildcard: false,
            },
        ];
        let doc =
            json!({"Version": "2012-10-17", "Statement": permission_statements(&permissions)})
                .to_string();
        assert_eq!(permissions_of(&doc), permissions);
        // As IAM answers GetRolePolicy: URL-encoded.
        let encoded: String = doc
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        assert_eq!(permissions_of(&encoded), permissions);
        // One action and one resource written as strings.
        let single = r#"{"Statement":{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:1:q"}}"#;
        assert_eq!(
            permissions_of(single),
            [Permission {
                actions: vec!["sqs:SendMessage".into()],
                resources: vec!["arn:aws:sqs:us-east-1:1:q".into()],
                allow_wildcard: false,
            }]
        );
    }
}

/// IAM's answers for the grants of a role, for the tests of the kinds that read them back.
#[cfg(test)]
pub(crate) mod mocks {
    use aws_sdk_iam::operation::get_role_policy::{GetRolePolicyError, GetRolePolicyOutput};
    use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
    use aws_sdk_iam::types::AttachedPolicy;
    use aws_sdk_iam::types::error::NoSuchEntityException;
    use aws_smithy_mocks::{MockResponse, Rule, mock};

    use super::*;

    /// A policy document as GetRolePolicy answers it: URL-encoded (RFC 3986).
    /// https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html
    pub(crate) fn url_encoded(doc: &str) -> String {
        doc.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// GetRolePolicy of `panka-permissions` (NoSuchEntity without permissions) and
    /// ListAttachedRolePolicies (in the reverse of the spec's order: IAM's is its own) of
    /// `role`, for `grants`.
    /// https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListAttachedRolePolicies.html
    pub(crate) fn grant_rules(role: &'static str, grants: &Grants) -> [Rule; 2] {
        let doc = (!grants.permissions.is_empty()).then(|| {
            url_encoded(
                &json!({"Version": "2012-10-17", "Statement": permission_statements(&grants.permissions)})
                    .to_string(),
            )
        });
        let policy = mock!(aws_sdk_iam::Client::get_role_policy)
            .match_requests(move |r| {
                r.role_name() == Some(role) && r.policy_name() == Some(PERMISSIONS_POLICY)
            })
            .then_compute_response(move |_| match &doc {
                Some(doc) => MockResponse::Output(
                    GetRolePolicyOutput::builder()
                        .role_name(role)
                        .policy_name(PERMISSIONS_POLICY)
                        .policy_document(doc)
                        .build()
                        .expect("every required field is set"),
                ),
                None => MockResponse::Error(GetRolePolicyError::NoSuchEntityException(
                    NoSuchEntityException::builder()
                        .message(format!(
                            "The role policy with name {PERMISSIONS_POLICY} cannot be found."
                        ))
                        .build(),
                )),
            });
        let mut managed = grants.managed_policies.clone();
        managed.reverse();
        let attached = mock!(aws_sdk_iam::Client::list_attached_role_policies)
            .match_requests(move |r| r.role_name() == Some(role))
            .then_output(move || {
                ListAttachedRolePoliciesOutput::builder()
                    .set_attached_policies(Some(
                        managed
                            .iter()
                            .map(|arn| {
                                AttachedPolicy::builder()
                                    .policy_arn(arn)
                                    .policy_name(arn.rsplit('/').next().unwrap_or(arn))
                                    .build()
                            })
                            .collect(),
                    ))
                    .is_truncated(false)
                    .build()
            });
        [policy, attached]
    }
}
