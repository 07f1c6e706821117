//! The stack's private DNS namespace (`_shared/namespace`, AWS Cloud Map): one per stack and
//! environment, named `{environment}.{stack}.internal`, in the stack's VPC. Created before the
//! first MicroService with a port and deleted after the last one; each such service registers
//! its tasks in it (see `microservice::discovery`), so that other components reach it at
//! `NAME.NAMESPACE` inside the VPC.
//!
//! Outputs: `id`, `arn`, `name`, `hostedZoneId`. The network forces replacement (a private
//! namespace belongs to the VPC it was made in).
//!
//! CreatePrivateDnsNamespace and DeleteNamespace are asynchronous: they return an operation,
//! which is waited for with GetOperation until `SUCCESS` (a `FAIL` carries Cloud Map's error)
//! as terraform-provider-aws does (`internal/service/servicediscovery/wait.go`,
//! `waitOperationSucceeded`; `private_dns_namespace.go` waits after create and delete).
//! https://docs.aws.amazon.com/cloud-map/latest/api/API_CreatePrivateDnsNamespace.html

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_servicediscovery::Client;
use aws_sdk_servicediscovery::types::{
    FilterCondition, Namespace, OperationFilter, OperationFilterName, OperationStatus,
    OperationTargetType, Tag,
};
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Transient, Unobservable,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::errors::{aws_error, check_owner, poll_while, unless_missing};
use crate::network::{Tier, placement_in};

/// terraform-provider-aws waits 5 minutes for a Cloud Map operation (`OperationSuccessTimeout`):
/// creating a namespace creates a Route 53 private hosted zone, which takes under a minute.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(300);
/// Operations are polled every 2 s: namespace operations finish in tens of seconds.
pub(crate) const OPERATION_POLL: Duration = Duration::from_secs(2);
/// DeleteNamespace refuses (`ResourceInUse`) while a service is left in the namespace; a
/// MicroService deleted a moment ago may still be deleting its Cloud Map service after ECS
/// deregistered the last task (up to the tasks' stop timeout).
const IN_USE_WAIT: Duration = Duration::from_secs(300);
const IN_USE_POLL: Duration = Duration::from_secs(10);

/// The shared namespace provider.
#[derive(Clone, Debug)]
pub struct NamespaceProvider {
    sd: Client,
    ec2: aws_sdk_ec2::Client,
}

impl NamespaceProvider {
    pub fn new(sd: Client, ec2: aws_sdk_ec2::Client) -> Self {
        NamespaceProvider { sd, ec2 }
    }
}

pub(crate) fn sd_tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// The namespace's ids and outputs, from GetNamespace's answer (`vpc`: where it was made,
/// recorded because Cloud Map does not report it).
fn outcome(ns: &Namespace, vpc: Option<&str>) -> Outcome {
    let mut ids = BTreeMap::new();
    let mut outputs = BTreeMap::new();
    let hosted_zone = ns
        .properties()
        .and_then(|p| p.dns_properties())
        .and_then(|d| d.hosted_zone_id());
    for (key, value) in [
        ("id", ns.id()),
        ("arn", ns.arn()),
        ("name", ns.name()),
        ("hostedZoneId", hosted_zone),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            outputs.insert(key.to_string(), v.to_string());
        }
    }
    if let Some(id) = ns.id().filter(|v| !v.is_empty()) {
        ids.insert("namespace".to_string(), id.to_string());
    }
    if let Some(vpc) = vpc.filter(|v| !v.is_empty()) {
        ids.insert("vpc".to_string(), vpc.to_string());
    }
    Outcome {
        physical_ids: ids,
        outputs,
    }
}

/// A Cloud Map `CreatorRequestId` for one create of `what`: the SDK's own retries of the call
/// send the same, so a request repeated after a lost answer is not run twice
/// (CreatePrivateDnsNamespace answers `DuplicateRequest` with the operation it started); each
/// call of a create makes a new one, so that a resource deleted and made again is never taken
/// for the old request.
pub(crate) fn creator_request_id(what: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let digest = Sha256::digest(format!("{what}/{now}"));
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

impl NamespaceProvider {
    /// The namespace named `name` (ListNamespaces, every page, matched by name here: the
    /// `NAME` filter is applied the same way by Cloud Map).
    pub(crate) async fn find_named(&self, name: &str) -> Result<Option<Namespace>, ProviderError> {
        let mut token = None;
        loop {
            let page = self
                .sd
                .list_namespaces()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing Cloud Map namespaces for {name}"), e))?;
            if let Some(id) = page
                .namespaces()
                .iter()
                .find(|n| n.name() == Some(name))
                .and_then(|n| n.id())
            {
                return self.get(id).await;
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        }
    }

    /// GetNamespace; `None` when it is gone.
    async fn get(&self, id: &str) -> Result<Option<Namespace>, ProviderError> {
        Ok(unless_missing(
            self.sd.get_namespace().id(id).send().await,
            |e| e.is_namespace_not_found(),
            format!("reading Cloud Map namespace {id}"),
        )?
        .and_then(|r| r.namespace().cloned()))
    }

    /// Refuses a namespace that does not carry the stack's tags (ListTagsForResource).
    async fn check_namespace_owner(
        &self,
        ns: &Namespace,
        address: &str,
        expected: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let what = format!("Cloud Map namespace {}", ns.name().unwrap_or_default());
        let Some(arn) = ns.arn() else {
            return check_owner(&what, address, [], expected);
        };
        let tags = self
            .sd
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the tags of {what}"), e))?;
        check_owner(
            &what,
            address,
            tags.tags().iter().map(|t| (t.key(), t.value())),
            expected,
        )
    }

    /// Waits for the namespace creations in progress (ListOperations: `CREATE_NAMESPACE`,
    /// `SUBMITTED` or `PENDING`): one of them may be an earlier try of this create whose answer
    /// was lost, and its namespace is listed only once it succeeded.
    async fn wait_creations_in_progress(&self) -> Result<(), ProviderError> {
        let filter = |name, values: &[&str], condition| {
            OperationFilter::builder()
                .name(name)
                .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
                .condition(condition)
                .build()
                .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "operation filter", e))
        };
        let ops = self
            .sd
            .list_operations()
            .filters(filter(
                OperationFilterName::Type,
                &["CREATE_NAMESPACE"],
                FilterCondition::Eq,
            )?)
            .filters(filter(
                OperationFilterName::Status,
                &["SUBMITTED", "PENDING"],
                FilterCondition::In,
            )?)
            .send()
            .await
            .map_err(|e| aws_error("listing Cloud Map namespace creations in progress", e))?;
        for op in ops.operations() {
            if let Some(id) = op.id() {
                // Somebody else's failure is not this create's.
                if let Err(e) = wait_operation(&self.sd, id, "creating a Cloud Map namespace").await
                    && e.kind != ErrorKind::Invalid
                {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The namespace `name` if it exists (after any creation in progress), checked to carry
    /// the stack's tags.
    async fn find_owned(&self, t: &Target<'_, Value>) -> Result<Option<Namespace>, ProviderError> {
        let found = match self.find_named(t.name).await? {
            Some(ns) => Some(ns),
            None => {
                self.wait_creations_in_progress().await?;
                self.find_named(t.name).await?
            }
        };
        if let Some(ns) = &found {
            self.check_namespace_owner(ns, t.address, t.tags).await?;
        }
        Ok(found)
    }
}

/// Waits for Cloud Map operation `id` (GetOperation) to succeed: `SUBMITTED` and `PENDING`
/// are pending, `SUCCESS` the target, `FAIL` fails with Cloud Map's error code and message.
/// Returns the operation's targets (`NAMESPACE`, `SERVICE`, `INSTANCE` → id).
///
/// # Errors
/// [`ErrorKind::Invalid`] when the operation failed, [`ErrorKind::Timeout`] after
/// [`OPERATION_TIMEOUT`], and the errors of GetOperation.
pub(crate) async fn wait_operation(
    sd: &Client,
    id: &str,
    what: &str,
) -> Result<BTreeMap<OperationTargetType, String>, ProviderError> {
    let polls = (OPERATION_TIMEOUT.as_secs() / OPERATION_POLL.as_secs()) as usize;
    let pending = ErrorKind::Transient(Transient::DependencyNotReady);
    let check = || async {
        let op = sd
            .get_operation()
            .operation_id(id)
            .send()
            .await
            .map_err(|e| aws_error(format!("{what}: reading Cloud Map operation {id}"), e))?;
        let op = op.operation().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("Cloud Map operation {id} is gone"),
            )
        })?;
        match op.status() {
            Some(OperationStatus::Success) => Ok(op
                .targets()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()),
            Some(OperationStatus::Fail) => Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "{what}: Cloud Map operation {id} failed: {}: {}",
                    op.error_code().unwrap_or("no error code"),
                    op.error_message().unwrap_or("no message")
                ),
            )),
            other => Err(ProviderError::new(
                pending,
                format!(
                    "{what}: Cloud Map operation {id} is {}",
                    other.map_or("not started", |s| s.as_str())
                ),
            )),
        }
    };
    poll_while(OPERATION_POLL, polls, pending, check)
        .await
        .map_err(|e| {
            if e.kind == pending {
                ProviderError::new(
                    ErrorKind::Timeout,
                    format!("{} (waited {} s)", e.message, OPERATION_TIMEOUT.as_secs()),
                )
            } else {
                e
            }
        })
}

impl KindProvider for NamespaceProvider {
    type Spec = Value;
    const KIND: &'static str = "SharedNamespace";
    const UNOBSERVABLE: &'static [Unobservable] = &[Unobservable {
        field: "network",
        tracked_by: "GetNamespace reports a private namespace's hosted zone, not its VPC: the recorded network (and the VPC in the ids, `vpc`) stands",
    }];

    async fn create(&self, t: &Target<'_, Value>) -> Result<Outcome, ProviderError> {
        let vpc = placement_in(&self.ec2, t.config, Tier::Private)
            .await?
            .vpc_id;
        // Made by a run that did not finish, or whose answer was lost: the stack's own is used,
        // anybody else's refused; never a second one.
        if let Some(ns) = self.find_owned(t).await? {
            return self.update_found(t, &ns, &vpc).await;
        }
        let created = self
            .sd
            .create_private_dns_namespace()
            .name(t.name)
            .vpc(&vpc)
            .creator_request_id(creator_request_id(&format!("{}/{vpc}", t.name)))
            .description(format!("panka: {}", t.address))
            .set_tags(Some(sd_tags(t.tags)))
            .send()
            .await;
        let operation = match created {
            Ok(r) => r.operation_id().map(str::to_string),
            Err(e) => {
                let service = e.as_service_error();
                if let Some(op) = service.and_then(|s| match s {
                    aws_sdk_servicediscovery::operation::create_private_dns_namespace::CreatePrivateDnsNamespaceError::DuplicateRequest(d) => d.duplicate_operation_id().map(str::to_string),
                    _ => None,
                }) {
                    Some(op)
                } else if service.is_some_and(|s| s.is_namespace_already_exists()) {
                    // Made meanwhile (a lost answer, another run): found by name and tags.
                    let ns = self.find_owned(t).await?.ok_or_else(|| {
                        ProviderError::new(
                            ErrorKind::Transient(Transient::NotYetVisible),
                            format!("Cloud Map namespace {} exists but is not listed yet", t.name),
                        )
                    })?;
                    return self.update_found(t, &ns, &vpc).await;
                } else {
                    return Err(aws_error(
                        format!("creating Cloud Map namespace {}", t.name),
                        e,
                    ));
                }
            }
        };
        let operation = operation.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!("Cloud Map returned no operation for namespace {}", t.name),
            )
        })?;
        let targets = wait_operation(
            &self.sd,
            &operation,
            &format!("creating Cloud Map namespace {}", t.name),
        )
        .await?;
        let id = targets
            .get(&OperationTargetType::Namespace)
            .cloned()
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("Cloud Map operation {operation} names no namespace"),
                )
            })?;
        let ns = self.get(&id).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Transient(Transient::NotYetVisible),
                format!("Cloud Map namespace {id} ({}) is not visible yet", t.name),
            )
        })?;
        Ok(outcome(&ns, Some(&vpc)))
    }

    /// One GetNamespace call, by the recorded id.
    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<Value>>, ProviderError> {
        let Some(ns_id) = id.ids.get("namespace") else {
            return Ok(None);
        };
        Ok(self.get(ns_id).await?.map(|ns| {
            let vpc = id.ids.get("vpc").map(String::as_str);
            Observation::new(outcome(&ns, vpc), json!({})).unobserved(&["network"])
        }))
    }

    /// Only the tags can change in place (the network replaces the namespace).
    async fn update(
        &self,
        t: &Target<'_, Value>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let found = match ids.get("namespace") {
            Some(id) => self.get(id).await?,
            None => self.find_named(t.name).await?,
        };
        let ns = found.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("Cloud Map namespace {} does not exist", t.name),
            )
        })?;
        let vpc = match ids.get("vpc") {
            Some(v) => v.clone(),
            None => {
                placement_in(&self.ec2, t.config, Tier::Private)
                    .await?
                    .vpc_id
            }
        };
        self.update_found(t, &ns, &vpc).await
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<Value>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let id = match ids.get("namespace") {
            Some(id) => id.clone(),
            None => match self
                .find_named(name)
                .await?
                .and_then(|n| n.id().map(str::to_string))
            {
                Some(id) => id,
                None => return Ok(()),
            },
        };
        let what = format!("deleting Cloud Map namespace {name}");
        let attempt = || async {
            match self.sd.delete_namespace().id(&id).send().await {
                Ok(r) => Ok(r.operation_id().map(str::to_string)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_namespace_not_found()) =>
                {
                    Ok(None)
                }
                Err(e) => {
                    // A service left in it: the last MicroService's may still be going.
                    let in_use = e.as_service_error().is_some_and(|s| s.is_resource_in_use());
                    let mut err = aws_error(what.clone(), e);
                    if in_use {
                        err.kind = ErrorKind::Transient(Transient::DependencyNotReady);
                    }
                    Err(err)
                }
            }
        };
        let polls = (IN_USE_WAIT.as_secs() / IN_USE_POLL.as_secs()) as usize;
        let operation = poll_while(
            IN_USE_POLL,
            polls,
            ErrorKind::Transient(Transient::DependencyNotReady),
            attempt,
        )
        .await?;
        if let Some(op) = operation {
            wait_operation(&self.sd, &op, &what).await?;
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, Value>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        let found = match ids.get("namespace") {
            Some(id) => self.get(id).await?,
            None => self.find_named(t.name).await?,
        };
        Ok(found.map(|ns| format!("{} services", ns.service_count().unwrap_or(0))))
    }

    async fn find(&self, t: &Target<'_, Value>) -> Result<Option<Outcome>, ProviderError> {
        let Some(ns) = self.find_named(t.name).await? else {
            return Ok(None);
        };
        self.check_namespace_owner(&ns, t.address, t.tags).await?;
        let vpc = placement_in(&self.ec2, t.config, Tier::Private)
            .await?
            .vpc_id;
        Ok(Some(outcome(&ns, Some(&vpc))))
    }
}

impl NamespaceProvider {
    /// Brings a namespace found by its name to the stack's tags (TagResource).
    async fn update_found(
        &self,
        t: &Target<'_, Value>,
        ns: &Namespace,
        vpc: &str,
    ) -> Result<Outcome, ProviderError> {
        if let Some(arn) = ns.arn() {
            self.sd
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(sd_tags(t.tags)))
                .send()
                .await
                .map_err(|e| aws_error(format!("tagging Cloud Map namespace {}", t.name), e))?;
        }
        Ok(outcome(ns, Some(vpc)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_servicediscovery::operation::create_private_dns_namespace::{
        CreatePrivateDnsNamespaceError, CreatePrivateDnsNamespaceOutput,
    };
    use aws_sdk_servicediscovery::operation::get_namespace::GetNamespaceOutput;
    use aws_sdk_servicediscovery::operation::get_operation::GetOperationOutput;
    use aws_sdk_servicediscovery::operation::list_namespaces::ListNamespacesOutput;
    use aws_sdk_servicediscovery::operation::list_operations::ListOperationsOutput;
    use aws_sdk_servicediscovery::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_servicediscovery::operation::tag_resource::TagResourceOutput;
    use aws_sdk_servicediscovery::types::error::NamespaceAlreadyExists;
    use aws_sdk_servicediscovery::types::{
        DnsProperties, NamespaceProperties, NamespaceSummary, NamespaceType, Operation,
    };
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    const NAME: &str = "dev.shop.internal";
    const ID: &str = "ns-abc123";
    const ARN: &str = "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-abc123";

    fn stack_tags() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("panka:stack".to_string(), "shop".to_string()),
            ("panka:environment".to_string(), "dev".to_string()),
            ("panka:managed-by".to_string(), "panka".to_string()),
        ])
    }

    /// The stack's network given, so that no EC2 call finds the default VPC.
    fn config() -> Value {
        json!({"name": NAME, "network": {"vpcId": "vpc-1", "privateSubnets": ["subnet-1"]}})
    }

    /// A namespace as GetNamespace reports it:
    /// https://docs.aws.amazon.com/cloud-map/latest/api/API_GetNamespace.html
    fn namespace() -> Namespace {
        Namespace::builder()
            .id(ID)
            .arn(ARN)
            .name(NAME)
            .r#type(NamespaceType::DnsPrivate)
            .properties(
                NamespaceProperties::builder()
                    .dns_properties(DnsProperties::builder().hosted_zone_id("Z123").build())
                    .build(),
            )
            .build()
    }

    /// A GetOperation answer (https://docs.aws.amazon.com/cloud-map/latest/api/API_GetOperation.html).
    fn operation(status: OperationStatus) -> GetOperationOutput {
        let mut op = Operation::builder().id("op-1").status(status.clone());
        match status {
            OperationStatus::Success => {
                op = op.targets(OperationTargetType::Namespace, ID);
            }
            OperationStatus::Fail => {
                op = op.error_code("CANNOT_CREATE_HOSTED_ZONE").error_message(
                    "The VPC that you chose, vpc-1, is already associated with another private hosted zone that has an overlapping name space",
                );
            }
            _ => {}
        }
        GetOperationOutput::builder().operation(op.build()).build()
    }

    fn listed(present: bool) -> Rule {
        mock!(Client::list_namespaces).then_output(move || {
            let summaries = present.then(|| {
                vec![
                    NamespaceSummary::builder()
                        .id("ns-other")
                        .name("prod.shop.internal")
                        .build(),
                    NamespaceSummary::builder()
                        .id(ID)
                        .arn(ARN)
                        .name(NAME)
                        .build(),
                ]
            });
            ListNamespacesOutput::builder()
                .set_namespaces(summaries)
                .build()
        })
    }

    fn got() -> Rule {
        mock!(Client::get_namespace)
            .match_requests(|r| r.id() == Some(ID))
            .then_output(|| GetNamespaceOutput::builder().namespace(namespace()).build())
    }

    fn no_creations_in_progress() -> Rule {
        mock!(Client::list_operations).then_output(|| ListOperationsOutput::builder().build())
    }

    fn provider(sd: Client) -> NamespaceProvider {
        let none: [&Rule; 0] = [];
        NamespaceProvider::new(sd, mock_client!(aws_sdk_ec2, none))
    }

    async fn create(sd: Client, tags: &BTreeMap<String, String>) -> Result<Outcome, ProviderError> {
        let config = config();
        let t = Target {
            address: "_shared/namespace",
            name: NAME,
            spec: config.clone(),
            tags,
            region: "us-east-1",
            config: &config,
        };
        provider(sd).create(&t).await
    }

    #[tokio::test]
    async fn a_creation_pending_then_successful_is_waited_for_and_read() {
        let created = mock!(Client::create_private_dns_namespace)
            .match_requests(|r| {
                r.name() == Some(NAME)
                    && r.vpc() == Some("vpc-1")
                    && r.creator_request_id().is_some_and(|id| !id.is_empty())
                    && r.tags()
                        .iter()
                        .any(|t| t.key() == "panka:stack" && t.value() == "shop")
            })
            .then_output(|| {
                CreatePrivateDnsNamespaceOutput::builder()
                    .operation_id("op-1")
                    .build()
            });
        let waited = mock!(Client::get_operation)
            .match_requests(|r| r.operation_id() == Some("op-1"))
            .sequence()
            .output(|| operation(OperationStatus::Submitted))
            .output(|| operation(OperationStatus::Pending))
            .output(|| operation(OperationStatus::Success))
            .build();
        let (listed, ops, got) = (listed(false), no_creations_in_progress(), got());
        let sd = mock_client!(
            aws_sdk_servicediscovery,
            RuleMode::MatchAny,
            [&listed, &ops, &created, &waited, &got]
        );
        let made = create(sd, &stack_tags()).await.unwrap();
        assert_eq!(waited.num_calls(), 3, "polled until SUCCESS");
        assert_eq!(made.physical_ids["namespace"], ID);
        assert_eq!(made.physical_ids["vpc"], "vpc-1");
        assert_eq!(made.outputs["name"], NAME);
        assert_eq!(made.outputs["arn"], ARN);
        assert_eq!(made.outputs["hostedZoneId"], "Z123");
    }

    #[tokio::test]
    async fn a_failed_creation_surfaces_cloud_maps_error() {
        let created = mock!(Client::create_private_dns_namespace).then_output(|| {
            CreatePrivateDnsNamespaceOutput::builder()
                .operation_id("op-1")
                .build()
        });
        let failed = mock!(Client::get_operation).then_output(|| operation(OperationStatus::Fail));
        let (listed, ops) = (listed(false), no_creations_in_progress());
        let sd = mock_client!(
            aws_sdk_servicediscovery,
            RuleMode::MatchAny,
            [&listed, &ops, &created, &failed]
        );
        let e = create(sd, &stack_tags()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(
            e.message.contains("CANNOT_CREATE_HOSTED_ZONE"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("overlapping name space"),
            "{}",
            e.message
        );
        assert_eq!(failed.num_calls(), 1, "a failure ends the wait");
    }

    /// The answer of an earlier create was lost and the namespace is listed only now: the
    /// create is refused with NamespaceAlreadyExists, and the namespace is found by its name
    /// and used because it carries the stack's tags; no second one is made.
    #[tokio::test]
    async fn a_namespace_made_by_a_lost_create_is_found_by_name_and_tags() {
        let lists = mock!(Client::list_namespaces)
            .sequence()
            .output(|| ListNamespacesOutput::builder().build())
            .times(2)
            .output(|| {
                ListNamespacesOutput::builder()
                    .namespaces(
                        NamespaceSummary::builder()
                            .id(ID)
                            .arn(ARN)
                            .name(NAME)
                            .build(),
                    )
                    .build()
            })
            .build();
        let exists = mock!(Client::create_private_dns_namespace).then_error(|| {
            CreatePrivateDnsNamespaceError::NamespaceAlreadyExists(
                NamespaceAlreadyExists::builder().namespace_id(ID).build(),
            )
        });
        let tags = mock!(Client::list_tags_for_resource)
            .match_requests(|r| r.resource_arn() == Some(ARN))
            .then_output(|| {
                ListTagsForResourceOutput::builder()
                    .set_tags(Some(sd_tags(&stack_tags())))
                    .build()
            });
        let tagged =
            mock!(Client::tag_resource).then_output(|| TagResourceOutput::builder().build());
        let (ops, got) = (no_creations_in_progress(), got());
        let sd = mock_client!(
            aws_sdk_servicediscovery,
            RuleMode::MatchAny,
            [&lists, &ops, &exists, &tags, &tagged, &got]
        );
        let made = create(sd, &stack_tags()).await.unwrap();
        assert_eq!(exists.num_calls(), 1);
        assert_eq!(made.physical_ids["namespace"], ID);
        assert_eq!(made.outputs["name"], NAME);
    }

    #[tokio::test]
    async fn a_namespace_of_the_name_with_other_tags_is_refused() {
        let tags = mock!(Client::list_tags_for_resource).then_output(|| {
            let mut other = stack_tags();
            other.insert("panka:stack".to_string(), "other".to_string());
            ListTagsForResourceOutput::builder()
                .set_tags(Some(sd_tags(&other)))
                .build()
        });
        let (listed, got) = (listed(true), got());
        let never = mock!(Client::create_private_dns_namespace)
            .then_output(|| CreatePrivateDnsNamespaceOutput::builder().build());
        let sd = mock_client!(
            aws_sdk_servicediscovery,
            RuleMode::MatchAny,
            [&listed, &got, &tags, &never]
        );
        let e = create(sd, &stack_tags()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotOwned);
        assert_eq!(never.num_calls(), 0);
    }

    #[tokio::test]
    async fn a_namespace_gone_reads_as_absent() {
        let gone = mock!(Client::get_namespace).then_error(|| {
            aws_sdk_servicediscovery::operation::get_namespace::GetNamespaceError::NamespaceNotFound(
                aws_sdk_servicediscovery::types::error::NamespaceNotFound::builder().build(),
            )
        });
        let sd = mock_client!(aws_sdk_servicediscovery, [&gone]);
        let ids = BTreeMap::from([("namespace".to_string(), ID.to_string())]);
        let empty = BTreeMap::new();
        let id = crate::test_identity("_shared/namespace", NAME, &ids, &empty);
        assert!(provider(sd).read(&id).await.unwrap().is_none());
    }
}
