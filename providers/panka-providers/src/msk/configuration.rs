//! The MSK configuration holding the spec's broker properties, one revision per change.

use aws_sdk_kafka::primitives::Blob;
use panka_engine::{ProviderError, Target};
use panka_format::kinds::{MskSpec, StringMap};

use super::MskProvider;
use crate::errors::{aws_error, unless_missing};

/// The broker properties as MSK takes them: `key=value` lines, sorted.
pub(super) fn server_properties(s: &MskSpec) -> String {
    let mut lines: Vec<String> = s
        .configuration
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    lines.sort();
    lines.join("\n") + "\n"
}

/// The broker properties of a configuration revision, the inverse of [`server_properties`]:
/// `key=value` lines (MSK keeps them as written; comments and blank lines hold none), sorted.
pub(super) fn parse_properties(text: &str) -> StringMap {
    let mut found: Vec<(String, String)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    found.sort();
    found.into_iter().collect()
}

impl MskProvider {
    /// The configuration holding the spec's broker properties, at the revision that has them;
    /// `None` when the spec sets none.
    pub(super) async fn ensure_configuration(
        &self,
        t: &Target<'_, MskSpec>,
    ) -> Result<Option<(String, i64)>, ProviderError> {
        if t.spec.configuration.is_empty() {
            return Ok(None);
        }
        let properties = server_properties(&t.spec);
        let Some(arn) = self.find_configuration(t.name).await? else {
            let created = self
                .kafka
                .create_configuration()
                .name(t.name)
                .description(format!("panka: {}", t.address))
                .kafka_versions(&t.spec.kafka_version)
                .server_properties(Blob::new(properties))
                .send()
                .await
                .map_err(|e| aws_error(format!("creating MSK configuration {}", t.name), e))?;
            return Ok(Some((
                created.arn().unwrap_or_default().to_string(),
                created
                    .latest_revision()
                    .and_then(|r| r.revision())
                    .unwrap_or(1),
            )));
        };
        let latest = self
            .kafka
            .describe_configuration()
            .arn(&arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading MSK configuration {}", t.name), e))?
            .latest_revision()
            .and_then(|r| r.revision())
            .unwrap_or(1);
        let current = self
            .kafka
            .describe_configuration_revision()
            .arn(&arn)
            .revision(latest)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading MSK configuration {}", t.name), e))?;
        if current.server_properties().map(Blob::as_ref) == Some(properties.as_bytes()) {
            return Ok(Some((arn, latest)));
        }
        let updated = self
            .kafka
            .update_configuration()
            .arn(&arn)
            .server_properties(Blob::new(properties))
            .send()
            .await
            .map_err(|e| aws_error(format!("updating MSK configuration {}", t.name), e))?;
        Ok(Some((
            arn,
            updated
                .latest_revision()
                .and_then(|r| r.revision())
                .unwrap_or(latest + 1),
        )))
    }

    pub(super) async fn find_configuration(
        &self,
        name: &str,
    ) -> Result<Option<String>, ProviderError> {
        let mut next = None;
        loop {
            let page = self
                .kafka
                .list_configurations()
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| aws_error("listing MSK configurations", e))?;
            if let Some(arn) = page
                .configurations()
                .iter()
                .find(|c| c.name() == Some(name))
                .and_then(|c| c.arn())
            {
                return Ok(Some(arn.to_string()));
            }
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(None);
            }
        }
    }

    /// The server properties of `revision` of the configuration `arn`; `None` when MSK no longer
    /// has it.
    pub(super) async fn revision_properties(
        &self,
        arn: &str,
        revision: i64,
    ) -> Result<Option<String>, ProviderError> {
        let read = self
            .kafka
            .describe_configuration_revision()
            .arn(arn)
            .revision(revision)
            .send()
            .await;
        Ok(unless_missing(
            read,
            |s| s.is_not_found_exception(),
            format!("reading revision {revision} of MSK configuration {arn}"),
        )?
        .map(|r| {
            r.server_properties()
                .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
                .unwrap_or_default()
        }))
    }
}
