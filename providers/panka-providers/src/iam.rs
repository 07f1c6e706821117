//! IAM roles panka makes for the components that run code (ECS tasks, Lambda functions): one
//! role per purpose with a single inline policy named `panka`.

use std::collections::BTreeMap;

use panka_engine::{ErrorKind, ProviderError};
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
                ErrorKind::Retryable,
                format!("deleting the policy of IAM role {role}"),
                e,
            ));
        }
    }
    if let Err(e) = iam.delete_role().role_name(role).send().await {
        let e = aws_sdk_iam::Error::from(e);
        if !gone(&e) {
            return Err(ProviderError::with_source(
                ErrorKind::Retryable,
                format!("deleting IAM role {role}"),
                e,
            ));
        }
    }
    Ok(())
}
