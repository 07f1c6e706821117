//! The resources the selectors match whose kind panka does not manage, found with the Resource
//! Groups Tagging API (GetResources): listed as skipped, so nothing the selectors match goes
//! unmentioned. Resources that are part of an adopted component (a Lambda function's log
//! group, the secret RDS keeps an instance's master password in) say so instead.

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::types::TagFilter;

use super::listing::aws_error;
use super::{Found, Skipped};

/// The ARN services and resource types of the kinds discovery lists with their own calls.
const LISTED_ELSEWHERE: &[(&str, &str)] = &[
    ("sqs", ""),
    ("sns", ""),
    ("s3", ""),
    ("dynamodb", "table"),
    ("rds", "db"),
    ("elasticache", "replicationgroup"),
    ("lambda", "function"),
    ("ecs", "service"),
];

/// A resource's ARN split into service, resource type and name.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ArnParts {
    pub service: String,
    pub resource_type: String,
    pub name: String,
}

/// Splits `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, where RESOURCE is `NAME`,
/// `TYPE/NAME` or `TYPE:NAME` (a log group's `:*` suffix left out).
pub(super) fn arn_parts(arn: &str) -> Option<ArnParts> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some(service), Some(_), Some(_), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let at = resource.find(['/', ':']);
    let (resource_type, name) = match at {
        Some(i) => (&resource[..i], &resource[i + 1..]),
        None => ("", resource),
    };
    Some(ArnParts {
        service: service.to_string(),
        resource_type: resource_type.to_string(),
        name: name.trim_end_matches(":*").to_string(),
    })
}

/// The resources carrying every tag of `tags` (any tagged resource when none) whose name
/// starts with `prefix`, that are not of a kind discovery lists itself nor panka's own: each
/// as skipped, with why.
///
/// # Errors
/// When GetResources fails.
pub(super) async fn unmanaged(
    aws: &panka_aws::Aws,
    tags: &[(String, String)],
    prefix: Option<&str>,
    adopted: &[&Found],
    shared: &[(String, String)],
) -> anyhow::Result<Vec<Skipped>> {
    let client = aws_sdk_resourcegroupstagging::Client::new(aws.config());
    let filters: Vec<TagFilter> = tags
        .iter()
        .map(|(k, v)| TagFilter::builder().key(k).values(v).build())
        .collect();
    // What adopted components hold beside their main resource, by ARN or name.
    let mut parts_of: BTreeMap<String, String> = BTreeMap::new();
    for f in adopted {
        if let Some(secret) = f.outputs.get("masterSecretArn") {
            parts_of.insert(
                secret.clone(),
                format!(
                    "the secret RDS keeps the master password of component {} in",
                    f.address
                ),
            );
        }
        for (output, what) in [
            ("taskDefinitionArn", "the task definition"),
            ("targetGroupArn", "the target group"),
        ] {
            if let Some(arn) = f.outputs.get(output) {
                parts_of.insert(arn.clone(), format!("{what} of component {}", f.address));
            }
        }
        if let Some(group) = f.outputs.get("logGroupName") {
            parts_of.insert(
                group.clone(),
                format!("the log group of component {}", f.address),
            );
        }
    }
    // The stack's shared cluster and load balancer, by ARN.
    for (arn, address) in shared {
        parts_of.insert(arn.clone(), format!("the stack's {address}"));
    }
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .get_resources()
            .set_tag_filters((!filters.is_empty()).then(|| filters.clone()))
            .set_pagination_token(token.clone())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing tagged resources: {}", aws_error(&e)))?;
        for mapping in page.resource_tag_mapping_list() {
            let Some(arn) = mapping.resource_arn() else {
                continue;
            };
            let Some(p) = arn_parts(arn) else {
                continue;
            };
            let listed = LISTED_ELSEWHERE
                .iter()
                .any(|(s, t)| p.service == *s && (t.is_empty() || p.resource_type == *t));
            let panka_own = mapping
                .tags()
                .iter()
                .any(|t| t.key() == panka_format::naming::TAG_STACK);
            if listed || panka_own || prefix.is_some_and(|pre| !p.name.starts_with(pre)) {
                continue;
            }
            let kind = if p.resource_type.is_empty() {
                p.service.clone()
            } else {
                format!("{} {}", p.service, p.resource_type)
            };
            let reason = match parts_of.get(arn).or_else(|| parts_of.get(&p.name)) {
                Some(part) => format!("{part}: adopted with it"),
                None => format!(
                    "panka does not manage this kind of resource ({arn}): it stays as it is, outside the stack"
                ),
            };
            out.push(Skipped {
                kind,
                name: p.name,
                reason,
            });
        }
        token = page
            .pagination_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split() {
        assert_eq!(
            arn_parts("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*"),
            Some(ArnParts {
                service: "logs".into(),
                resource_type: "log-group".into(),
                name: "/aws/lambda/f".into()
            })
        );
        assert_eq!(
            arn_parts("arn:aws:s3:::assets").map(|p| (p.resource_type, p.name)),
            Some((String::new(), "assets".into()))
        );
        assert_eq!(
            arn_parts("arn:aws:ecs:us-east-1:1:service/cluster/api").map(|p| p.name),
            Some("cluster/api".into())
        );
        assert_eq!(arn_parts("not-an-arn"), None);
    }
}
