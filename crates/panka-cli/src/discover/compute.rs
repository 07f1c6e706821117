//! Listing Lambda functions, RDS instances and ElastiCache Redis replication groups, the kinds
//! whose format has no field for an explicit AWS name: discovery adopts one only under the
//! name panka derives for it (see [`derived_component`]).
//!
//! A zip function's code is not reported by Lambda (GetFunction gives a presigned link to a
//! copy): `--lambda-code NAME=s3://BUCKET/KEY[#VERSION]` says where it lives, and discovery
//! checks that object's SHA-256 against the function's `CodeSha256` before writing it as
//! `code.s3`.

use std::collections::BTreeMap;

use anyhow::Context;
use base64::Engine;
use panka_format::kinds::Kind;
use panka_format::model::Address;
use sha2::{Digest, Sha256};

use super::listing::aws_error;
use super::{Listed, Skipped};

/// The component whose derived AWS name is `aws_name` in `service` of the stack, or `None`
/// when no component name gives it (the name is not `{stack}-{environment}-{service}-C`, or C
/// is not a component name, or the kind would shorten it).
pub(super) fn derived_component(
    stack: &str,
    environment: &str,
    service: &str,
    kind: Kind,
    aws_name: &str,
) -> Option<String> {
    let info = kind.info();
    let head = format!("{stack}-{environment}-{service}-");
    let head = if info.name_lowercase {
        head.to_ascii_lowercase()
    } else {
        head
    };
    let component = aws_name.strip_prefix(&head)?;
    if !panka_format::naming::valid_resource_name(component) {
        return None;
    }
    let address = Address::new(service.to_string(), component.to_string());
    let derived = panka_format::naming::physical_name(
        stack,
        environment,
        &address,
        info.name_limit,
        info.name_lowercase,
    );
    (derived == aws_name).then(|| component.to_string())
}

/// Lambda functions, with their tags (ListFunctions, ListTags).
pub(super) async fn list_lambda(aws: &panka_aws::Aws) -> anyhow::Result<Vec<Listed>> {
    let client = aws.lambda();
    let mut functions = Vec::new();
    let mut marker = None;
    loop {
        let page = client
            .list_functions()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing Lambda functions: {}", aws_error(&e)))?;
        functions.extend(page.functions().iter().cloned());
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let mut out = Vec::new();
    for f in functions {
        let (Some(name), Some(arn)) = (f.function_name(), f.function_arn()) else {
            continue;
        };
        let tags = client
            .list_tags()
            .resource(arn)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading tags of {arn}: {}", aws_error(&e)))?
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let mut inexpressible = Vec::new();
        let own_role = panka_providers::lambda::role(name);
        if let Some(role) = f.role().and_then(|r| r.rsplit('/').next())
            && role != own_role
        {
            inexpressible.push(format!(
                "its execution role {role} and that role's policies (panka gives a function a role of its own, {own_role}, when an apply next updates it)"
            ));
        }
        if !f.layers().is_empty() {
            inexpressible.push(format!(
                "its layers ({})",
                f.layers()
                    .iter()
                    .filter_map(|l| l.arn())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(dlq) = f.dead_letter_config().and_then(|d| d.target_arn()) {
            inexpressible.push(format!("its dead-letter target {dlq}"));
        }
        if f.tracing_config()
            .and_then(|t| t.mode())
            .map(|m| m.as_str())
            == Some("Active")
        {
            inexpressible.push("active X-Ray tracing".to_string());
        }
        if f.vpc_config().is_some_and(|v| !v.subnet_ids().is_empty()) {
            inexpressible.push(
                "its subnets and security groups (panka places a `vpc` function in the stack's private subnets with a security group of its own)".to_string(),
            );
        }
        let zip = f.package_type().map(|p| p.as_str()) != Some("Image");
        out.push(Listed {
            kind: Kind::Lambda,
            name: name.to_string(),
            ids: BTreeMap::from([("function".to_string(), name.to_string())]),
            tags,
            inexpressible,
            code_sha256: zip.then(|| f.code_sha256().unwrap_or_default().to_string()),
            ecs: None,
        });
    }
    Ok(out)
}

/// RDS DB instances (not Aurora cluster members), with their tags (DescribeDBInstances).
pub(super) async fn list_rds(
    aws: &panka_aws::Aws,
    skipped: &mut Vec<Skipped>,
) -> anyhow::Result<Vec<Listed>> {
    let client = aws.rds();
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let page = client
            .describe_db_instances()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing RDS instances: {}", aws_error(&e)))?;
        for db in page.db_instances() {
            let Some(id) = db.db_instance_identifier() else {
                continue;
            };
            if let Some(cluster) = db.db_cluster_identifier() {
                skipped.push(Skipped {
                    kind: "RDS".into(),
                    name: id.to_string(),
                    reason: format!(
                        "it is a member of Aurora cluster {cluster}, which panka's RDS kind (one instance) is not"
                    ),
                });
                continue;
            }
            let tags = db
                .tag_list()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect();
            let mut inexpressible = Vec::new();
            if db.master_user_secret().is_none() {
                inexpressible.push(
                    "its master password, which Secrets Manager does not keep (panka neither knows nor changes it, and the component has no masterSecretArn output)".to_string(),
                );
            }
            if !db.read_replica_db_instance_identifiers().is_empty() {
                inexpressible.push(format!(
                    "its read replicas ({})",
                    db.read_replica_db_instance_identifiers().join(", ")
                ));
            }
            out.push(Listed {
                kind: Kind::RDS,
                name: id.to_string(),
                ids: BTreeMap::from([("instance".to_string(), id.to_string())]),
                tags,
                inexpressible,
                code_sha256: None,
                ecs: None,
            });
        }
        marker = page.marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    Ok(out)
}

/// ElastiCache Redis (and Valkey) replication groups, with their tags
/// (DescribeReplicationGroups, ListTagsForResource).
pub(super) async fn list_redis(aws: &panka_aws::Aws) -> anyhow::Result<Vec<Listed>> {
    let client = aws.elasticache();
    let mut groups = Vec::new();
    let mut marker = None;
    loop {
        let page = client
            .describe_replication_groups()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("listing ElastiCache replication groups: {}", aws_error(&e))
            })?;
        groups.extend(page.replication_groups().iter().cloned());
        marker = page.marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let mut out = Vec::new();
    for g in groups {
        let Some(id) = g.replication_group_id() else {
            continue;
        };
        let tags = match g.arn() {
            Some(arn) => client
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("reading tags of {arn}: {}", aws_error(&e)))?
                .tag_list()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect(),
            None => BTreeMap::new(),
        };
        let mut inexpressible = Vec::new();
        if g.auth_token_enabled() == Some(true) {
            inexpressible.push("its AUTH token (panka neither knows nor changes it)".to_string());
        }
        if !g.user_group_ids().is_empty() {
            inexpressible.push(format!(
                "its user groups ({})",
                g.user_group_ids().join(", ")
            ));
        }
        out.push(Listed {
            kind: Kind::ElastiCacheRedis,
            name: id.to_string(),
            ids: BTreeMap::from([("replicationGroup".to_string(), id.to_string())]),
            tags,
            inexpressible,
            code_sha256: None,
            ecs: None,
        });
    }
    Ok(out)
}

/// Where a zip function's code lives, as `--lambda-code` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CodeLocation {
    pub bucket: String,
    pub key: String,
    pub version: Option<String>,
}

/// Parses `s3://BUCKET/KEY[#VERSION]`.
pub(super) fn parse_code_location(text: &str) -> anyhow::Result<CodeLocation> {
    let rest = text
        .strip_prefix("s3://")
        .with_context(|| format!("`{text}` is not s3://BUCKET/KEY[#VERSION]"))?;
    let (path, version) = match rest.split_once('#') {
        Some((p, v)) if !v.is_empty() => (p, Some(v.to_string())),
        Some(_) => anyhow::bail!("`{text}` names no version after `#`"),
        None => (rest, None),
    };
    match path.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(CodeLocation {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version,
        }),
        _ => anyhow::bail!("`{text}` is not s3://BUCKET/KEY[#VERSION]"),
    }
}

/// Whether the object at `at` is the code a function runs: its SHA-256, base64-encoded, is
/// the function's `CodeSha256` (GetObject).
///
/// # Errors
/// When the object cannot be read.
pub(super) async fn same_code(
    aws: &panka_aws::Aws,
    at: &CodeLocation,
    code_sha256: &str,
) -> anyhow::Result<bool> {
    let object = aws
        .s3()
        .get_object()
        .bucket(&at.bucket)
        .key(&at.key)
        .set_version_id(at.version.clone())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading s3://{}/{}: {}", at.bucket, at.key, aws_error(&e)))?;
    let bytes = object
        .body
        .collect()
        .await
        .with_context(|| format!("reading s3://{}/{}", at.bucket, at.key))?
        .into_bytes();
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
    Ok(digest == code_sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_is_found_only_under_its_derived_name() {
        assert_eq!(
            derived_component("s", "dev", "api", Kind::Lambda, "s-dev-api-mailer").as_deref(),
            Some("mailer")
        );
        assert_eq!(
            derived_component("s", "dev", "api", Kind::Lambda, "mailer"),
            None
        );
        assert_eq!(
            derived_component("s", "dev", "api", Kind::Lambda, "s-dev-api-Mailer"),
            None
        );
        // RDS names are lower-cased: a stack named in capitals cannot be, so none matches.
        assert_eq!(
            derived_component("s", "dev", "api", Kind::RDS, "s-dev-api-db").as_deref(),
            Some("db")
        );
        // Redis ids are cut at 40 characters with a hash: a long name is not one panka gives.
        let long = format!("s-dev-api-{}", "a".repeat(35));
        assert_eq!(
            derived_component("s", "dev", "api", Kind::ElastiCacheRedis, &long),
            None
        );
    }

    #[test]
    fn code_locations_parse() {
        assert_eq!(
            parse_code_location("s3://b/k/x.zip#v1").unwrap(),
            CodeLocation {
                bucket: "b".into(),
                key: "k/x.zip".into(),
                version: Some("v1".into())
            }
        );
        assert!(parse_code_location("b/k").is_err());
        assert!(parse_code_location("s3://b").is_err());
        assert!(parse_code_location("s3://b/k#").is_err());
    }
}
