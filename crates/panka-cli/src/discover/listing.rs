//! Listing the resources of the kinds discovery covers with each service's own list calls,
//! with their tags and the settings panka's format cannot express.

use std::collections::BTreeMap;

use anyhow::bail;
use panka_format::kinds::Kind;

use super::{Listed, Skipped};

/// An SDK error with its causes.
pub(super) fn aws_error(e: &(dyn std::error::Error + 'static)) -> String {
    aws_sdk_sqs::error::DisplayErrorContext(e).to_string()
}

pub(super) async fn list_sqs(
    aws: &panka_aws::Aws,
    prefix: Option<&str>,
) -> anyhow::Result<Vec<Listed>> {
    let client = aws.sqs();
    let mut urls = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_queues()
            .set_queue_name_prefix(prefix.map(str::to_string))
            .set_next_token(token)
            .max_results(1000)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing SQS queues: {}", aws_error(&e)))?;
        urls.extend(page.queue_urls().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut out = Vec::new();
    for url in urls {
        let name = url.rsplit('/').next().unwrap_or_default().to_string();
        let tags = client
            .list_queue_tags()
            .queue_url(&url)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading tags of {url}: {}", aws_error(&e)))?
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let attrs = client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading attributes of {url}: {}", aws_error(&e)))?;
        let mut inexpressible = Vec::new();
        if attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
            .is_some_and(|p| !p.is_empty())
        {
            inexpressible.push(
                "its access policy (panka writes a queue's policy only for the subscriptions and rules that send to it)".to_string(),
            );
        }
        out.push(Listed {
            kind: Kind::SQS,
            name,
            ids: BTreeMap::from([("url".to_string(), url)]),
            tags,
            inexpressible,
            code_sha256: None,
            ecs: None,
        });
    }
    Ok(out)
}

pub(super) async fn list_sns(aws: &panka_aws::Aws) -> anyhow::Result<Vec<Listed>> {
    let client = aws.sns();
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_topics()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing SNS topics: {}", aws_error(&e)))?;
        arns.extend(
            page.topics()
                .iter()
                .filter_map(|t| t.topic_arn().map(str::to_string)),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut out = Vec::new();
    for arn in arns {
        let name = arn.rsplit(':').next().unwrap_or_default().to_string();
        let tags = client
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading tags of {arn}: {}", aws_error(&e)))?
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        out.push(Listed {
            kind: Kind::SNS,
            name,
            ids: BTreeMap::from([("topic".to_string(), arn)]),
            tags,
            inexpressible: Vec::new(),
            code_sha256: None,
            ecs: None,
        });
    }
    Ok(out)
}

pub(super) async fn list_s3(
    aws: &panka_aws::Aws,
    region: &str,
    skipped: &mut Vec<Skipped>,
) -> anyhow::Result<Vec<Listed>> {
    let client = aws.s3();
    let mut buckets = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_buckets()
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing S3 buckets: {}", aws_error(&e)))?;
        for b in page.buckets() {
            if let Some(name) = b.name() {
                buckets.push((name.to_string(), b.bucket_region().map(str::to_string)));
            }
        }
        token = page.continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut out = Vec::new();
    for (name, bucket_region) in buckets {
        if bucket_region.as_deref().is_some_and(|r| r != region) {
            skipped.push(Skipped {
                kind: "S3".into(),
                name,
                reason: format!(
                    "it is in {}, not the stack's region {region}",
                    bucket_region.unwrap_or_default()
                ),
            });
            continue;
        }
        let tags = match client.get_bucket_tagging().bucket(&name).send().await {
            Ok(t) => t
                .tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
            Err(e)
                if e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
                    || format!("{e:?}").contains("NoSuchTagSet") =>
            {
                BTreeMap::new()
            }
            Err(e) => bail!("reading tags of S3 bucket {name}: {}", aws_error(&e)),
        };
        let mut inexpressible = Vec::new();
        if client
            .get_bucket_policy()
            .bucket(&name)
            .send()
            .await
            .is_ok_and(|p| p.policy().is_some_and(|p| !p.is_empty()))
        {
            inexpressible.push("its bucket policy".to_string());
        }
        out.push(Listed {
            kind: Kind::S3,
            name: name.clone(),
            ids: BTreeMap::from([("bucket".to_string(), name)]),
            tags,
            inexpressible,
            code_sha256: None,
            ecs: None,
        });
    }
    Ok(out)
}

pub(super) async fn list_dynamodb(aws: &panka_aws::Aws) -> anyhow::Result<Vec<Listed>> {
    let client = aws.dynamodb();
    let mut names = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .list_tables()
            .set_exclusive_start_table_name(start)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing DynamoDB tables: {}", aws_error(&e)))?;
        names.extend(page.table_names().iter().cloned());
        start = page.last_evaluated_table_name().map(str::to_string);
        if start.is_none() {
            break;
        }
    }
    let mut out = Vec::new();
    for name in names {
        let described = client
            .describe_table()
            .table_name(&name)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("describing DynamoDB table {name}: {}", aws_error(&e)))?;
        let Some(arn) = described.table().and_then(|t| t.table_arn()) else {
            continue;
        };
        let mut tags = BTreeMap::new();
        let mut token = None;
        loop {
            let page = client
                .list_tags_of_resource()
                .resource_arn(arn)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("reading tags of {arn}: {}", aws_error(&e)))?;
            tags.extend(
                page.tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string())),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        out.push(Listed {
            kind: Kind::DynamoDB,
            name: name.clone(),
            ids: BTreeMap::from([("table".to_string(), name)]),
            tags,
            inexpressible: Vec::new(),
            code_sha256: None,
            ecs: None,
        });
    }
    Ok(out)
}
