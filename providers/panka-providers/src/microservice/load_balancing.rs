//! Load balancing: a target group per public port, brought to the readiness check, and the
//! listener rules forwarding a path or host to it on the shared load balancer's listeners.
//!
//! A rule's priority is the port's: the one its spec gives, or the one `panka validate` derived
//! for it from the specificity of every route of the stack ([`panka_format::routes`]), so rules
//! are evaluated most specific first across all the services sharing a listener. A priority
//! another rule holds (a rule being moved or deleted in the same apply) is left for the
//! nearest free one in the same specificity band, which keeps the order; the read reports the
//! priority the rule has, so the next plan moves it to its own once it is free.

use panka_format::routes::{PRIORITY_MAX, band_of_priority, band_range};

use crate::alb::owned_target_group;

use super::*;

/// The tag a component puts on the target groups it attaches to another component's service.
pub(crate) const ATTACHED_BY_TAG: &str = "panka:attached-by";

/// The priority of a public port's rule.
///
/// # Errors
/// [`ErrorKind::Invalid`] for a port without one: loading a stack gives every public port its
/// priority, so only a configuration built some other way lacks it.
pub(super) fn wanted_priority(address: &str, p: &Port) -> Result<i32, ProviderError> {
    p.priority
        .filter(|v| (1..=PRIORITY_MAX).contains(v))
        .map(|v| v as i32)
        .ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "public port {} of {address} has no listener rule priority (1-{PRIORITY_MAX})",
                    p.name
                ),
            )
        })
}

/// The priorities to try for a rule that wants `wanted`, in order: `wanted`, then the others
/// of its band from the next one up, wrapping to the band's start.
pub(super) fn priority_candidates(wanted: i32) -> impl Iterator<Item = i32> {
    let band = band_range(band_of_priority(wanted.unsigned_abs()));
    let (first, width) = (*band.start() as i32, (band.end() - band.start() + 1) as i32);
    let offset = (wanted - first).clamp(0, width - 1);
    (0..width).map(move |i| first + (offset + i) % width)
}

pub(super) fn rule_conditions(p: &Port) -> Vec<RuleCondition> {
    let mut c = Vec::new();
    if let Some(path) = &p.path {
        // `/orders/*` should also match `/orders`.
        let values: Vec<String> = panka_format::routes::path_values(path)
            .into_iter()
            .map(str::to_string)
            .collect();
        c.push(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(values))
                        .build(),
                )
                .build(),
        );
    }
    if let Some(host) = &p.host {
        c.push(
            RuleCondition::builder()
                .field("host-header")
                .host_header_config(HostHeaderConditionConfig::builder().values(host).build())
                .build(),
        );
    }
    c
}

impl<S: EcsKind> EcsServiceProvider<S> {
    /// The target group of a public port, created or brought to the readiness check.
    pub(super) async fn ensure_target_group(
        &self,
        t: &Target<'_, S>,
        vpc: &str,
        p: &Port,
    ) -> Result<String, ProviderError> {
        let name = target_group(t.name, p);
        let readiness = t.spec.workload().readiness.as_ref();
        let http = readiness.and_then(|r| r.http.as_ref());
        let grpc = p.protocol == PortProtocol::Grpc;
        let protocol = if p.protocol == PortProtocol::Https {
            ProtocolEnum::Https
        } else {
            ProtocolEnum::Http
        };
        let path = http.map_or(if grpc { "/AWS.ALB/healthcheck" } else { "/" }, |h| {
            h.path.as_str()
        });
        let codes = http.map_or(if grpc { "12" } else { "200-399" }, |h| {
            h.success_codes.as_str()
        });
        let matcher = if grpc {
            Matcher::builder().grpc_code(codes).build()
        } else {
            Matcher::builder().http_code(codes).build()
        };
        let hc_port = http
            .and_then(|h| h.port)
            .or(readiness.and_then(|r| r.tcp.as_ref()).map(|t| t.port))
            .map_or_else(|| "traffic-port".to_string(), |p| p.to_string());
        let period = readiness.map_or(30, |r| r.period_seconds as i32);
        let timeout = readiness.map_or(5, |r| r.timeout_seconds as i32);
        let healthy = readiness.map_or(2, |r| r.success_threshold as i32);
        let unhealthy = readiness.map_or(3, |r| r.failure_threshold as i32);
        let existing = owned_target_group(&self.elb, &name, t.address, t.tags).await?;
        if let Some(arn) = existing {
            self.elb
                .modify_target_group()
                .target_group_arn(&arn)
                .health_check_path(path)
                .health_check_port(&hc_port)
                .health_check_interval_seconds(period)
                .health_check_timeout_seconds(timeout)
                .healthy_threshold_count(healthy)
                .unhealthy_threshold_count(unhealthy)
                .matcher(matcher)
                .send()
                .await
                .map_err(|e| aws_error(format!("updating target group {name}"), e))?;
            return Ok(arn);
        }
        let created = self
            .elb
            .create_target_group()
            .name(&name)
            .protocol(protocol)
            .set_protocol_version(grpc.then(|| "GRPC".to_string()))
            .port(p.port as i32)
            .vpc_id(vpc)
            .target_type(TargetTypeEnum::Ip)
            .health_check_enabled(true)
            .health_check_path(path)
            .health_check_port(&hc_port)
            .health_check_interval_seconds(period)
            .health_check_timeout_seconds(timeout)
            .healthy_threshold_count(healthy)
            .unhealthy_threshold_count(unhealthy)
            .matcher(matcher)
            .set_tags(Some(elb_tags(t.tags)))
            .send()
            .await;
        let created = match created {
            Ok(created) => created,
            // The SDK's retry of a create whose answer was lost (AWS answers an identical
            // create with the same group; moto refuses it): the group is there, with its tags.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_duplicate_target_group_name_exception()) =>
            {
                if let Some(arn) = owned_target_group(&self.elb, &name, t.address, t.tags).await? {
                    return Ok(arn);
                }
                return Err(aws_error(format!("creating target group {name}"), e));
            }
            Err(e) => return Err(aws_error(format!("creating target group {name}"), e)),
        };
        created
            .target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("ELB returned no target group for {name}"),
                )
            })
    }

    /// The listener rule forwarding the port's path or host to its target group, on one
    /// listener, at the port's priority (or the nearest free one in its band): found by its
    /// forward target and brought to the port's conditions and priority, or created.
    pub(super) async fn ensure_rule(
        &self,
        t: &Target<'_, S>,
        listener: &str,
        p: &Port,
        tg: &str,
    ) -> Result<String, ProviderError> {
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg)
            .build();
        let rules = self
            .elb
            .describe_rules()
            .listener_arn(listener)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the rules of listener {listener}"), e))?;
        let wanted = wanted_priority(t.address, p)?;
        let mine = rules
            .rules()
            .iter()
            .find(|r| r.actions().iter().any(|a| a.target_group_arn() == Some(tg)));
        let mine_arn = mine.and_then(|r| r.rule_arn());
        // Priorities other rules of the listener hold.
        let taken: BTreeSet<i32> = rules
            .rules()
            .iter()
            .filter(|r| mine_arn.is_none() || r.rule_arn() != mine_arn)
            .filter_map(|r| r.priority().and_then(|p| p.parse().ok()))
            .collect();
        if let Some(rule) = mine {
            let arn = rule.rule_arn().unwrap_or_default().to_string();
            self.elb
                .modify_rule()
                .rule_arn(&arn)
                .set_conditions(Some(rule_conditions(p)))
                .actions(forward)
                .send()
                .await
                .map_err(|e| aws_error(format!("updating listener rule {arn}"), e))?;
            let current: Option<i32> = rule.priority().and_then(|v| v.parse().ok());
            if current == Some(wanted) {
                return Ok(arn);
            }
            for priority in priority_candidates(wanted).filter(|c| !taken.contains(c)) {
                if current == Some(priority) {
                    // Already the nearest free one.
                    return Ok(arn);
                }
                let set = self
                    .elb
                    .set_rule_priorities()
                    .rule_priorities(
                        aws_sdk_elasticloadbalancingv2::types::RulePriorityPair::builder()
                            .rule_arn(&arn)
                            .priority(priority)
                            .build(),
                    )
                    .send()
                    .await;
                match set {
                    Ok(_) => return Ok(arn),
                    // Taken since the rules were listed: the next one.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_priority_in_use_exception()) => {}
                    Err(e) => {
                        return Err(aws_error(format!("setting the priority of {arn}"), e));
                    }
                }
            }
            return Err(no_free_priority(t.address, wanted));
        }
        for priority in priority_candidates(wanted).filter(|c| !taken.contains(c)) {
            let created = self
                .elb
                .create_rule()
                .listener_arn(listener)
                .priority(priority)
                .set_conditions(Some(rule_conditions(p)))
                .actions(forward.clone())
                .set_tags(Some(elb_tags(t.tags)))
                .send()
                .await;
            match created {
                Ok(r) => {
                    return Ok(r
                        .rules()
                        .first()
                        .and_then(|r| r.rule_arn())
                        .unwrap_or_default()
                        .to_string());
                }
                // Taken since the rules were listed: by this very create, when its answer was
                // lost and the SDK sent it again (the rule forwarding to the target group is
                // there now), else by another rule: the next one.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_priority_in_use_exception()) =>
                {
                    if let Some(arn) = self.rule_forwarding_to(listener, tg).await? {
                        return Ok(arn);
                    }
                }
                Err(e) => {
                    return Err(aws_error(
                        format!("creating the listener rule of {}", t.address),
                        e,
                    ));
                }
            }
        }
        Err(no_free_priority(t.address, wanted))
    }

    /// The rule of `listener` that forwards to target group `tg`, if there is one.
    async fn rule_forwarding_to(
        &self,
        listener: &str,
        tg: &str,
    ) -> Result<Option<String>, ProviderError> {
        let rules = self
            .elb
            .describe_rules()
            .listener_arn(listener)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the rules of listener {listener}"), e))?;
        Ok(rules
            .rules()
            .iter()
            .find(|r| r.actions().iter().any(|a| a.target_group_arn() == Some(tg)))
            .and_then(|r| r.rule_arn())
            .map(str::to_string))
    }

    /// The service's load balancers that other components attached (their target groups carry
    /// the tag `panka:attached-by`), leaving out those in `own`.
    pub(super) async fn attached_by_others(
        &self,
        svc: &Service,
        own: &[EcsLoadBalancer],
    ) -> Result<Vec<EcsLoadBalancer>, ProviderError> {
        let candidates: Vec<&EcsLoadBalancer> = svc
            .load_balancers()
            .iter()
            .filter(|b| {
                b.target_group_arn()
                    .is_some_and(|arn| !own.iter().any(|o| o.target_group_arn() == Some(arn)))
            })
            .collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let arns: Vec<String> = candidates
            .iter()
            .filter_map(|b| b.target_group_arn().map(str::to_string))
            .collect();
        let tags = self
            .elb
            .describe_tags()
            .set_resource_arns(Some(arns))
            .send()
            .await
            .map_err(|e| aws_error("reading the tags of the service's target groups", e))?;
        let attached: Vec<&str> = tags
            .tag_descriptions()
            .iter()
            .filter(|d| d.tags().iter().any(|t| t.key() == Some(ATTACHED_BY_TAG)))
            .filter_map(|d| d.resource_arn())
            .collect();
        Ok(candidates
            .into_iter()
            .filter(|b| b.target_group_arn().is_some_and(|a| attached.contains(&a)))
            .cloned()
            .collect())
    }
}

/// Every priority of a band is held: more rules of one specificity than a band holds.
fn no_free_priority(address: &str, wanted: i32) -> ProviderError {
    ProviderError::new(
        ErrorKind::Conflict,
        format!(
            "no free listener rule priority in the band of {wanted} for {address}; set \
             `ports[].priority` to a free one"
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_elasticloadbalancingv2::operation::create_rule::{
        CreateRuleError, CreateRuleOutput,
    };
    use aws_sdk_elasticloadbalancingv2::operation::describe_rules::DescribeRulesOutput;
    use aws_sdk_elasticloadbalancingv2::operation::modify_rule::ModifyRuleOutput;
    use aws_sdk_elasticloadbalancingv2::operation::set_rule_priorities::SetRulePrioritiesOutput;
    use aws_sdk_elasticloadbalancingv2::types::Rule;
    use aws_sdk_elasticloadbalancingv2::types::error::PriorityInUseException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    const LISTENER: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop-dev/0123/4567";
    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-dev-orders-api-http/89ab";
    const OTHER_TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-dev-web-site-http/cdef";

    fn rule(arn: &str, priority: &str, tg: &str) -> Rule {
        Rule::builder()
            .rule_arn(arn)
            .priority(priority)
            .actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(tg)
                    .build(),
            )
            .is_default(false)
            .build()
    }

    fn provider(rules: &[&aws_smithy_mocks::Rule]) -> MicroServiceProvider {
        let conf = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        EcsServiceProvider::new(Clients {
            elb: mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, rules),
            ecs: aws_sdk_ecs::Client::new(&conf),
            iam: aws_sdk_iam::Client::new(&conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
            scaling: aws_sdk_applicationautoscaling::Client::new(&conf),
            ec2: aws_sdk_ec2::Client::new(&conf),
            discovery: crate::microservice::unused_discovery(),
        })
    }

    fn spec(priority: u32) -> MicroServiceSpec {
        serde_json::from_value(json!({
            "image": {"repository": "nginx"},
            "ports": [{"name": "http", "port": 8080, "public": true, "path": "/orders/*", "priority": priority}]
        }))
        .unwrap()
    }

    async fn ensure(p: &MicroServiceProvider, priority: u32) -> Result<String, ProviderError> {
        let tags = BTreeMap::new();
        let config = json!({});
        let spec = spec(priority);
        let port = spec.ports[0].clone();
        let t = Target {
            address: "orders/api",
            name: "shop-dev-orders-api",
            spec,
            tags: &tags,
            region: "us-east-1",
            config: &config,
        };
        p.ensure_rule(&t, LISTENER, &port, TG).await
    }

    /// A new rule takes the port's priority; when another rule holds it (listed, or taken
    /// between the listing and CreateRule: `PriorityInUse`), the next free one of its band.
    /// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateRule.html
    #[tokio::test]
    async fn a_new_rule_moves_past_priorities_other_rules_hold_within_its_band() {
        let tried = Arc::new(Mutex::new(Vec::new()));
        let seen = tried.clone();
        let listed =
            mock!(aws_sdk_elasticloadbalancingv2::Client::describe_rules).then_output(|| {
                DescribeRulesOutput::builder()
                    .rules(rule("arn:rule/site", "7000", OTHER_TG))
                    .build()
            });
        let create = mock!(aws_sdk_elasticloadbalancingv2::Client::create_rule)
            .then_compute_response(move |r| {
                let at = r.priority().unwrap_or_default();
                seen.lock().unwrap().push(at);
                if at == 7001 {
                    aws_smithy_mocks::MockResponse::Error(CreateRuleError::PriorityInUseException(
                        PriorityInUseException::builder()
                            .message("Priority '7001' is currently in use")
                            .build(),
                    ))
                } else {
                    aws_smithy_mocks::MockResponse::Output(
                        CreateRuleOutput::builder()
                            .rules(rule("arn:rule/api", &at.to_string(), TG))
                            .build(),
                    )
                }
            });
        let p = provider(&[&listed, &create]);
        assert_eq!(ensure(&p, 7000).await.unwrap(), "arn:rule/api");
        assert_eq!(*tried.lock().unwrap(), [7001, 7002]);
        assert_eq!(band_of_priority(7002), band_of_priority(7000));
    }

    /// An existing rule (found by its target group) gets its conditions and, when its
    /// priority differs, the port's: SetRulePriorities.
    /// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_SetRulePriorities.html
    #[tokio::test]
    async fn an_existing_rule_is_moved_to_the_port_s_priority() {
        let moved = Arc::new(Mutex::new(Vec::new()));
        let m = moved.clone();
        let listed =
            mock!(aws_sdk_elasticloadbalancingv2::Client::describe_rules).then_output(|| {
                DescribeRulesOutput::builder()
                    .rules(rule("arn:rule/api", "43759", TG))
                    .rules(rule("arn:rule/site", "49900", OTHER_TG))
                    .build()
            });
        let modify = mock!(aws_sdk_elasticloadbalancingv2::Client::modify_rule)
            .match_requests(|r| r.rule_arn() == Some("arn:rule/api"))
            .then_output(|| ModifyRuleOutput::builder().build());
        let set = mock!(aws_sdk_elasticloadbalancingv2::Client::set_rule_priorities)
            .then_compute_output(move |r| {
                for pair in r.rule_priorities() {
                    m.lock().unwrap().push((
                        pair.rule_arn().unwrap_or_default().to_string(),
                        pair.priority(),
                    ));
                }
                SetRulePrioritiesOutput::builder().build()
            });
        let p = provider(&[&listed, &modify, &set]);
        assert_eq!(ensure(&p, 6000).await.unwrap(), "arn:rule/api");
        assert_eq!(
            *moved.lock().unwrap(),
            [("arn:rule/api".to_string(), Some(6000))]
        );
        // Already at its priority: only the conditions are set.
        let p = provider(&[&listed, &modify, &set]);
        assert_eq!(ensure(&p, 43759).await.unwrap(), "arn:rule/api");
        assert_eq!(moved.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_taken_priority_moves_within_its_band() {
        let all: Vec<i32> = priority_candidates(200).collect();
        let band = band_range(band_of_priority(200));
        assert_eq!(all[0], 200);
        assert_eq!(all[1], 201);
        assert_eq!(all.len() as u32, band.end() - band.start() + 1);
        assert!(all.iter().all(|p| band.contains(&(*p as u32))));
        // Past the band's end, the search wraps to its start.
        let last = *band.end() as i32;
        let wrapped: Vec<i32> = priority_candidates(last).take(2).collect();
        assert_eq!(wrapped, [last, *band.start() as i32]);
    }
}
