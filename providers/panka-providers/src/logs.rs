//! Reading a component's CloudWatch Logs (the log group its `logGroupName` output names), for
//! `panka logs`.

use aws_sdk_cloudwatchlogs::Client;
use panka_engine::ProviderError;

use crate::errors::aws_error;

/// One log event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The log stream (for ECS: `ecs/CONTAINER/TASK_ID`).
    pub stream: String,
    pub message: String,
    /// CloudWatch's id of the event, to leave out events already shown when following.
    pub id: String,
}

/// The events of `group` from `start_ms` on, oldest first, at most `limit`, matching `filter` (a
/// CloudWatch filter pattern) when given.
///
/// # Errors
/// CloudWatch Logs calls that fail (a missing group is an error naming it).
pub async fn read(
    client: &Client,
    group: &str,
    start_ms: i64,
    filter: Option<&str>,
    limit: usize,
) -> Result<Vec<LogLine>, ProviderError> {
    let mut lines = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .filter_log_events()
            .log_group_name(group)
            .start_time(start_ms)
            .set_filter_pattern(filter.map(str::to_string))
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| aws_error(format!("reading log group {group}"), e))?;
        for e in page.events() {
            lines.push(LogLine {
                timestamp_ms: e.timestamp().unwrap_or_default(),
                stream: e.log_stream_name().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().trim_end().to_string(),
                id: e.event_id().unwrap_or_default().to_string(),
            });
        }
        token = page.next_token().map(str::to_string);
        // Keep the newest `limit` events.
        if lines.len() > limit {
            lines.sort_by_key(|l| l.timestamp_ms);
            lines.drain(..lines.len() - limit);
        }
        if token.is_none() || page.events().is_empty() {
            break;
        }
    }
    lines.sort_by_key(|l| l.timestamp_ms);
    Ok(lines)
}

/// Creates the log group `group` (or finds it) with `retention` days.
pub(crate) async fn ensure_log_group(
    client: &Client,
    group: &str,
    retention: u32,
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    match client
        .create_log_group()
        .log_group_name(group)
        .set_tags(Some(tags.clone().into_iter().collect()))
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) => {}
        Err(e) => return Err(aws_error(format!("creating log group {group}"), e)),
    }
    client
        .put_retention_policy()
        .log_group_name(group)
        .retention_in_days(retention as i32)
        .send()
        .await
        .map_err(|e| aws_error(format!("setting the retention of log group {group}"), e))?;
    Ok(())
}

/// Deletes the log group `group`; a group already gone is fine.
pub(crate) async fn delete_log_group(client: &Client, group: &str) -> Result<(), ProviderError> {
    match client.delete_log_group().log_group_name(group).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(format!("deleting log group {group}"), e)),
    }
}
