//! Unit tests for the Lambda provider.

use super::*;

#[test]
fn names_fit_their_limits() {
    let long = "a-rather-long-stack-name-production-payments-webhook-handler-x";
    assert!(role(long).len() <= 64);
    let rule = schedule_rule(long, 3);
    assert!(rule.len() <= 64, "{rule}");
    assert!(rule.starts_with(&schedule_prefix(long)), "{rule}");
    assert_eq!(
        schedule_rule("shop-dev-payments-webhook", 0),
        "shop-dev-payments-webhook-schedule-0"
    );
}

#[test]
fn the_code_digest_follows_the_code_and_architecture_only() {
    let spec = |key: &str, memory: u32| -> LambdaSpec {
        serde_json::from_value(json!({"runtime": "python3.12", "handler": "app.handler",
            "code": {"s3": {"bucket": "artifacts", "key": key}}, "memoryMb": memory}))
        .unwrap()
    };
    assert_eq!(
        code_digest(&spec("a.zip", 128)),
        code_digest(&spec("a.zip", 512))
    );
    assert_ne!(
        code_digest(&spec("a.zip", 128)),
        code_digest(&spec("b.zip", 128))
    );
    assert_eq!(code_of(&spec("a.zip", 128)), "s3://artifacts/a.zip");
    let mut arm = spec("a.zip", 128);
    arm.architecture = CpuArchitecture::Arm64;
    assert_ne!(code_digest(&arm), code_digest(&spec("a.zip", 128)));
}

// ------------------------------------------------------------------ replays of AWS's answers

mod replays {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use aws_sdk_lambda::operation::create_function::CreateFunctionOutput;
    use aws_sdk_lambda::operation::delete_function::DeleteFunctionOutput;
    use aws_sdk_lambda::operation::delete_function_concurrency::DeleteFunctionConcurrencyOutput;
    use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsOutput;
    use aws_sdk_lambda::operation::list_tags::ListTagsOutput;
    use aws_sdk_lambda::operation::tag_resource::TagResourceOutput;
    use aws_sdk_lambda::operation::update_function_configuration::UpdateFunctionConfigurationOutput;
    use aws_sdk_lambda::types::{LastUpdateStatus, State, StateReasonCode};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use panka_engine::{ErrorKind, KindProvider, Target, Transient};
    use serde_json::json;

    use super::super::*;
    use crate::aws_replies;

    const NAME: &str = "shop-dev-payments-webhook";
    const ADDRESS: &str = "payments/webhook";
    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:shop-dev-payments-webhook";
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/shop-dev-payments-webhook-lambda";

    /// The calls made, in order, across every client.
    type Log = Arc<Mutex<Vec<String>>>;

    fn note(log: &Log, call: &str) {
        log.lock().unwrap().push(call.to_string());
    }

    fn calls(log: &Log, call: &str) -> usize {
        log.lock().unwrap().iter().filter(|c| *c == call).count()
    }

    fn spec() -> LambdaSpec {
        serde_json::from_value(json!({"runtime": "python3.12", "handler": "app.handler",
            "code": {"s3": {"bucket": "artifacts", "key": "webhook.zip"}}}))
        .unwrap()
    }

    fn owner_tags(component: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("panka:stack".to_string(), "shop".to_string()),
            ("panka:environment".to_string(), "dev".to_string()),
            ("panka:service".to_string(), "payments".to_string()),
            ("panka:component".to_string(), component.to_string()),
            ("panka:managed-by".to_string(), "panka".to_string()),
        ])
    }

    /// GetFunction for the function in `state`, its last update `update`, with `tags`.
    /// https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html
    fn function(
        state: State,
        update: LastUpdateStatus,
        tags: &BTreeMap<String, String>,
    ) -> GetFunctionOutput {
        let c = FunctionConfiguration::builder()
            .function_name(NAME)
            .function_arn(ARN)
            .role(ROLE_ARN)
            .code_sha256("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=")
            .state(state)
            .last_update_status(update)
            .build();
        let mut out = GetFunctionOutput::builder().configuration(c);
        for (k, v) in tags {
            out = out.tags(k, v);
        }
        out.build()
    }

    /// GetFunction for a function that does not exist (404 ResourceNotFoundException).
    fn missing() -> aws_smithy_runtime_api::http::Response {
        aws_replies::rest_json(
            404,
            "ResourceNotFoundException",
            &format!("Function not found: {ARN}"),
        )
    }

    /// The logs, IAM and EventBridge clients of a create of a function without VPC, schedules or
    /// queues: what `prepare` and `converge_schedules` call.
    struct Others {
        iam: aws_sdk_iam::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
        events: aws_sdk_eventbridge::Client,
        ec2: aws_sdk_ec2::Client,
    }

    fn others(log: &Log) -> Others {
        use aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupOutput;
        use aws_sdk_cloudwatchlogs::operation::put_retention_policy::PutRetentionPolicyOutput;
        use aws_sdk_eventbridge::operation::list_rules::ListRulesOutput;
        use aws_sdk_iam::operation::create_role::CreateRoleOutput;
        use aws_sdk_iam::operation::put_role_policy::PutRolePolicyOutput;
        let l = log.clone();
        let group = mock!(aws_sdk_cloudwatchlogs::Client::create_log_group).then_compute_output(
            move |_| {
                note(&l, "CreateLogGroup");
                CreateLogGroupOutput::builder().build()
            },
        );
        let retention = mock!(aws_sdk_cloudwatchlogs::Client::put_retention_policy)
            .then_output(|| PutRetentionPolicyOutput::builder().build());
        let l = log.clone();
        let role = mock!(aws_sdk_iam::Client::create_role).then_compute_output(move |r| {
            note(&l, "CreateRole");
            // The trust policy names Lambda's service principal.
            assert!(
                r.assume_role_policy_document()
                    .unwrap()
                    .contains("lambda.amazonaws.com")
            );
            CreateRoleOutput::builder()
                .role(
                    aws_sdk_iam::types::Role::builder()
                        .path("/")
                        .role_name(role(NAME))
                        .role_id("AROAEXAMPLE")
                        .arn(ROLE_ARN)
                        .create_date(aws_smithy_types::DateTime::from_secs(1_764_547_200))
                        .build()
                        .unwrap(),
                )
                .build()
        });
        let policy = mock!(aws_sdk_iam::Client::put_role_policy)
            .then_output(|| PutRolePolicyOutput::builder().build());
        // No permissions or managed policies in the spec: the role's `panka-permissions` policy
        // is removed (absent: IAM says NoSuchEntity) and no managed policy is attached.
        let no_permissions = mock!(aws_sdk_iam::Client::delete_role_policy).then_error(|| {
            aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyError::NoSuchEntityException(
                aws_sdk_iam::types::error::NoSuchEntityException::builder()
                    .message("The role policy with name panka-permissions cannot be found.")
                    .build(),
            )
        });
        let attached = mock!(aws_sdk_iam::Client::list_attached_role_policies).then_output(|| {
            aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput::builder()
                .build()
        });
        let rules = mock!(aws_sdk_eventbridge::Client::list_rules)
            .then_output(|| ListRulesOutput::builder().build());
        Others {
            iam: mock_client!(
                aws_sdk_iam,
                RuleMode::MatchAny,
                [&role, &policy, &no_permissions, &attached]
            ),
            logs: mock_client!(
                aws_sdk_cloudwatchlogs,
                RuleMode::MatchAny,
                [&group, &retention]
            ),
            events: mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&rules]),
            ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, Vec::<Rule>::new().iter()),
        }
    }

    /// Lambda's answers every converge ends with: concurrency, mappings, tags.
    fn converge_rules(log: &Log) -> Vec<Rule> {
        let l = log.clone();
        vec![
            mock!(Client::delete_function_concurrency)
                .then_output(|| DeleteFunctionConcurrencyOutput::builder().build()),
            mock!(Client::list_event_source_mappings)
                .then_output(|| ListEventSourceMappingsOutput::builder().build()),
            mock!(Client::list_tags).then_output(|| {
                ListTagsOutput::builder()
                    .tags(CODE_TAG, code_digest(&spec()))
                    .build()
            }),
            mock!(Client::tag_resource).then_compute_output(move |_| {
                note(&l, "TagResource");
                TagResourceOutput::builder().build()
            }),
        ]
    }

    fn provider(lambda: Client, o: Others) -> LambdaProvider {
        let mut p = LambdaProvider::new(lambda, o.iam, o.logs, o.events, o.ec2);
        p.eni_wait = network_interfaces::Pacing {
            poll: Duration::from_millis(5),
            timeout: Duration::from_secs(5),
        };
        p
    }

    fn target<'a>(
        spec: LambdaSpec,
        tags: &'a BTreeMap<String, String>,
        config: &'a Value,
    ) -> Target<'a, LambdaSpec> {
        Target {
            address: ADDRESS,
            name: NAME,
            spec,
            tags,
            region: "us-east-1",
            config,
        }
    }

    /// terraform-provider-aws's `retryFunctionOp` messages, as Lambda writes them: each is
    /// Transient::Lambda; a plain invalid parameter is not.
    #[tokio::test]
    async fn lambda_answers_while_the_role_is_not_usable_are_transient() {
        use aws_sdk_lambda::operation::create_event_source_mapping::CreateEventSourceMappingOutput;
        let cases = [
            (
                400,
                "InvalidParameterValueException",
                "The role defined for the function cannot be assumed by Lambda.",
                true,
            ),
            (
                400,
                "InvalidParameterValueException",
                "The provided execution role does not have permissions to call CreateNetworkInterface on EC2",
                true,
            ),
            (
                400,
                "InvalidParameterValueException",
                "The provided execution role does not have permissions to call ReceiveMessage on SQS",
                true,
            ),
            (
                409,
                "ResourceConflictException",
                "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:function:f",
                true,
            ),
            (
                400,
                "ResourceInUseException",
                "Cannot update the event source mapping because it is in use.",
                true,
            ),
            (
                400,
                "InvalidParameterValueException",
                "Value python2.1 at 'runtime' failed to satisfy constraint",
                false,
            ),
        ];
        for (status, code, message, transient) in cases {
            let rule = mock!(Client::create_event_source_mapping)
                .sequence()
                .http_response(move || aws_replies::rest_json(status, code, message))
                .output(|| CreateEventSourceMappingOutput::builder().build())
                .build();
            let client = mock_client!(aws_sdk_lambda, RuleMode::Sequential, [&rule]);
            let e = client
                .create_event_source_mapping()
                .function_name(NAME)
                .event_source_arn("arn:aws:sqs:us-east-1:123456789012:q")
                .send()
                .await
                .unwrap_err();
            let err = lambda_error("letting it consume", e);
            let expected = if transient {
                ErrorKind::Transient(Transient::Lambda)
            } else {
                ErrorKind::Invalid
            };
            assert_eq!(err.kind, expected, "{code}: {message}");
        }
    }

    /// CreateFunction refused while the new role is not assumable yet: the create fails as
    /// Transient::Lambda, and the engine's next attempt (find, then create) succeeds and waits
    /// for the function to become active. The create carries the component's tags.
    #[tokio::test]
    async fn a_create_refused_while_the_role_propagates_succeeds_when_tried_again() {
        let log: Log = Arc::default();
        let tags = owner_tags("webhook");
        let l = log.clone();
        let sent_tags = tags.clone();
        let create = mock!(Client::create_function)
            .match_requests(move |r| {
                note(&l, "CreateFunction");
                r.role() == Some(ROLE_ARN)
                    && r.tags().is_some_and(|t| {
                        t.get("panka:component") == sent_tags.get("panka:component")
                    })
            })
            .sequence()
            .http_response(|| {
                aws_replies::rest_json(
                    400,
                    "InvalidParameterValueException",
                    "The role defined for the function cannot be assumed by Lambda.",
                )
            })
            .output(|| CreateFunctionOutput::builder().function_arn(ARN).build())
            .build();
        let active = tags.clone();
        let get = mock!(Client::get_function)
            .sequence()
            .http_response(missing)
            .times(3)
            .output(move || function(State::Pending, LastUpdateStatus::Successful, &active))
            .output({
                let t = tags.clone();
                move || function(State::Active, LastUpdateStatus::Successful, &t)
            })
            .repeatedly()
            .build();
        let mut rules = converge_rules(&log);
        rules.extend([create, get]);
        let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, rules.iter());
        let p = provider(lambda, others(&log));
        let config = json!({});
        let t = target(spec(), &tags, &config);

        let first = p.create(&t).await.unwrap_err();
        assert_eq!(
            first.kind,
            ErrorKind::Transient(Transient::Lambda),
            "{}",
            first.chain()
        );
        // The engine's retry: find says absent, create again.
        assert!(p.find(&t).await.unwrap().is_none());
        let made = p.create(&t).await.unwrap();
        assert_eq!(made.outputs["arn"], ARN);
        assert_eq!(made.outputs["roleArn"], ROLE_ARN);
        assert_eq!(calls(&log, "CreateFunction"), 2);
    }

    /// A function that ends `Failed` after CreateFunction fails the create with Lambda's reason
    /// (GetFunction: `State`, `StateReasonCode`, `StateReason`).
    #[tokio::test]
    async fn a_function_that_fails_to_become_active_fails_the_create_with_its_reason() {
        let log: Log = Arc::default();
        let tags = owner_tags("webhook");
        let create = mock!(Client::create_function)
            .then_output(|| CreateFunctionOutput::builder().function_arn(ARN).build());
        let pending = tags.clone();
        let get = mock!(Client::get_function)
            .sequence()
            .http_response(missing)
            .output(move || function(State::Pending, LastUpdateStatus::Successful, &pending))
            .output(|| {
                let mut f = function(State::Failed, LastUpdateStatus::Successful, &BTreeMap::new());
                f.configuration = f.configuration.map(|c| {
                    let mut c = c;
                    c.state_reason_code = Some(StateReasonCode::EniLimitExceeded);
                    c.state_reason = Some(
                        "Lambda was unable to create an ENI in the VPC of the Lambda function because the limit for Network Interfaces has been reached.".into(),
                    );
                    c
                });
                f
            })
            .repeatedly()
            .build();
        let mut rules = converge_rules(&log);
        rules.extend([create, get]);
        let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, rules.iter());
        let config = json!({});
        let err = provider(lambda, others(&log))
            .create(&target(spec(), &tags, &config))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid, "{}", err.chain());
        assert!(err.message.contains("EniLimitExceeded"), "{}", err.message);
        assert!(
            err.message.contains("limit for Network Interfaces"),
            "{}",
            err.message
        );
    }

    /// UpdateFunctionConfiguration refused while an update is in progress
    /// (ResourceConflictException) fails the update as Transient::Lambda; the next attempt
    /// updates and waits for `LastUpdateStatus=Successful` before it goes on.
    #[tokio::test]
    async fn an_update_refused_while_another_is_in_progress_is_transient_then_waited_for() {
        let log: Log = Arc::default();
        let tags = owner_tags("webhook");
        let l = log.clone();
        let update = mock!(Client::update_function_configuration)
            .match_requests(move |r| {
                note(&l, "UpdateFunctionConfiguration");
                r.role() == Some(ROLE_ARN) && r.memory_size() == Some(128)
            })
            .sequence()
            .http_response(|| {
                aws_replies::rest_json(
                    409,
                    "ResourceConflictException",
                    &format!("The operation cannot be performed at this time. An update is in progress for resource: {ARN}"),
                )
            })
            .output(|| UpdateFunctionConfigurationOutput::builder().build())
            .build();
        let l = log.clone();
        let (done, busy) = (tags.clone(), tags.clone());
        // Done until the second UpdateFunctionConfiguration (GetFunction 1 and 2: the first
        // update; 3 and 4: the second, before it calls); in progress once after it, then done.
        let get = mock!(Client::get_function)
            .sequence()
            .output({
                let t = tags.clone();
                move || function(State::Active, LastUpdateStatus::Successful, &t)
            })
            .times(4)
            .output(move || function(State::Active, LastUpdateStatus::InProgress, &busy))
            .output(move || {
                note(&l, "Successful");
                function(State::Active, LastUpdateStatus::Successful, &done)
            })
            .repeatedly()
            .build();
        let mut rules = converge_rules(&log);
        rules.extend([update, get]);
        let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, rules.iter());
        let p = provider(lambda, others(&log));
        let config = json!({});
        let t = target(spec(), &tags, &config);
        let ids = BTreeMap::from([("function".to_string(), NAME.to_string())]);

        let first = p.update(&t, &ids).await.unwrap_err();
        assert_eq!(
            first.kind,
            ErrorKind::Transient(Transient::Lambda),
            "{}",
            first.chain()
        );
        p.update(&t, &ids).await.unwrap();
        assert_eq!(calls(&log, "UpdateFunctionConfiguration"), 2);
        // The update was waited for before the next call (the tags).
        let order = log.lock().unwrap().clone();
        let updated = order
            .iter()
            .rposition(|c| c == "UpdateFunctionConfiguration")
            .unwrap();
        let finished = order.iter().position(|c| c == "Successful").unwrap();
        let tagged = order.iter().position(|c| c == "TagResource").unwrap();
        assert!(updated < finished && finished < tagged, "{order:?}");
    }

    /// CreateFunction whose first answer was lost: its repeat is answered "Function already
    /// exist" (409 ResourceConflictException). The function carries this component's tags
    /// (CreateFunction sets them), so it is adopted and brought to the spec.
    #[tokio::test]
    async fn a_create_answered_already_exists_adopts_the_function_when_its_tags_are_ours() {
        let log: Log = Arc::default();
        let tags = owner_tags("webhook");
        let (lambda, update) = lost_create(&log, tags.clone());
        let config = json!({});
        let made = provider(lambda, others(&log))
            .create(&target(spec(), &tags, &config))
            .await
            .unwrap();
        assert_eq!(made.outputs["arn"], ARN);
        assert_eq!(update.num_calls(), 1);
    }

    /// The same, but the function of that name carries another component's tags: not taken
    /// over, and not updated.
    #[tokio::test]
    async fn a_create_answered_already_exists_refuses_another_components_function() {
        let log: Log = Arc::default();
        let tags = owner_tags("webhook");
        let (lambda, update) = lost_create(&log, owner_tags("other"));
        let config = json!({});
        let err = provider(lambda, others(&log))
            .create(&target(spec(), &tags, &config))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotOwned, "{}", err.chain());
        assert!(
            err.message.contains("panka import payments/webhook"),
            "{}",
            err.message
        );
        assert_eq!(update.num_calls(), 0);
    }

    /// Lambda for a CreateFunction answered "Function already exist", the function then read
    /// with `found` tags; and the UpdateFunctionConfiguration rule.
    fn lost_create(log: &Log, found: BTreeMap<String, String>) -> (Client, Rule) {
        let create = mock!(Client::create_function).then_http_response(|| {
            aws_replies::rest_json(
                409,
                "ResourceConflictException",
                "Function already exist: shop-dev-payments-webhook",
            )
        });
        let get = mock!(Client::get_function)
            .sequence()
            .http_response(missing)
            .output(move || function(State::Active, LastUpdateStatus::Successful, &found))
            .repeatedly()
            .build();
        let update = mock!(Client::update_function_configuration)
            .then_output(|| UpdateFunctionConfigurationOutput::builder().build());
        let mut rules = converge_rules(log);
        rules.extend([create, get, update.clone()]);
        (
            mock_client!(aws_sdk_lambda, RuleMode::MatchAny, rules.iter()),
            update,
        )
    }

    /// `find` (crash recovery, the engine's retry of a create) refuses a function of the name
    /// that carries no panka tags.
    #[tokio::test]
    async fn find_refuses_a_same_named_function_without_panka_tags() {
        let log: Log = Arc::default();
        let get = mock!(Client::get_function).then_output(|| {
            function(
                State::Active,
                LastUpdateStatus::Successful,
                &BTreeMap::new(),
            )
        });
        let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&get]);
        let tags = owner_tags("webhook");
        let config = json!({});
        let err = provider(lambda, others(&log))
            .find(&target(spec(), &tags, &config))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotOwned);
        assert!(
            err.message.contains("carries no panka tags"),
            "{}",
            err.message
        );
    }

    /// The clients of a delete of a VPC function whose network interface is in use for one
    /// look, then detached (`available`), then gone; every call logged in order.
    fn vpc_delete(log: &Log, interfaces: Vec<Vec<&'static str>>) -> LambdaProvider {
        use aws_sdk_cloudwatchlogs::operation::delete_log_group::DeleteLogGroupOutput;
        use aws_sdk_ec2::operation::delete_network_interface::DeleteNetworkInterfaceOutput;
        use aws_sdk_ec2::operation::delete_security_group::DeleteSecurityGroupOutput;
        use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
        use aws_sdk_ec2::types::{NetworkInterface, NetworkInterfaceStatus};
        use aws_sdk_eventbridge::operation::list_rules::ListRulesOutput;
        use aws_sdk_iam::operation::delete_role::DeleteRoleOutput;
        use aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyOutput;
        let logged = |call: &'static str| {
            let l = log.clone();
            move || note(&l, call)
        };
        let tags = owner_tags("webhook");
        let get = mock!(Client::get_function)
            .then_output(move || function(State::Active, LastUpdateStatus::Successful, &tags));
        let mappings = mock!(Client::list_event_source_mappings)
            .then_output(|| ListEventSourceMappingsOutput::builder().build());
        let n = logged("DeleteFunction");
        let delete = mock!(Client::delete_function).then_compute_output(move |_| {
            n();
            DeleteFunctionOutput::builder().build()
        });
        let rules = mock!(aws_sdk_eventbridge::Client::list_rules)
            .then_output(|| ListRulesOutput::builder().build());
        let looks = Arc::new(Mutex::new(interfaces.into_iter()));
        let n = logged("DescribeNetworkInterfaces");
        let describe = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
            .match_requests(|r| {
                let f = r.filters();
                f.iter()
                    .any(|f| f.name() == Some("group-id") && f.values() == ["sg-0lambda"])
                    && f.iter().any(|f| {
                        f.name() == Some("description") && f.values() == ["AWS Lambda VPC ENI*"]
                    })
            })
            .then_compute_output(move |_| {
                n();
                let look = looks.lock().unwrap().next().unwrap_or_default();
                DescribeNetworkInterfacesOutput::builder()
                    .set_network_interfaces(Some(
                        look.into_iter()
                            .map(|status| {
                                NetworkInterface::builder()
                                    .network_interface_id("eni-0hyperplane")
                                    .description(
                                        "AWS Lambda VPC ENI-shop-dev-payments-webhook-4c1f",
                                    )
                                    .status(NetworkInterfaceStatus::from(status))
                                    .build()
                            })
                            .collect(),
                    ))
                    .build()
            });
        let n = logged("DeleteNetworkInterface");
        // Deleted by Lambda in the meantime: EC2 answers InvalidNetworkInterfaceID.NotFound the
        // second time, which is as good as deleted.
        let deleted = Mutex::new(false);
        let eni = mock!(aws_sdk_ec2::Client::delete_network_interface)
            .match_requests(|r| r.network_interface_id() == Some("eni-0hyperplane"))
            .then_compute_response(move |_| {
                n();
                if std::mem::replace(&mut *deleted.lock().unwrap(), true) {
                    aws_smithy_mocks::MockResponse::Http(crate::aws_replies::ec2(
                        400,
                        "InvalidNetworkInterfaceID.NotFound",
                        "The networkInterface ID 'eni-0hyperplane' does not exist",
                    ))
                } else {
                    aws_smithy_mocks::MockResponse::Output(
                        DeleteNetworkInterfaceOutput::builder().build(),
                    )
                }
            });
        let n = logged("DeleteSecurityGroup");
        let sg = mock!(aws_sdk_ec2::Client::delete_security_group)
            .match_requests(|r| r.group_id() == Some("sg-0lambda"))
            .then_compute_output(move |_| {
                n();
                DeleteSecurityGroupOutput::builder().build()
            });
        let n = logged("DeleteLogGroup");
        let group = mock!(aws_sdk_cloudwatchlogs::Client::delete_log_group).then_compute_output(
            move |_| {
                n();
                DeleteLogGroupOutput::builder().build()
            },
        );
        let n = logged("DeleteRolePolicy");
        let policy = mock!(aws_sdk_iam::Client::delete_role_policy)
            .match_requests(|r| r.policy_name() == Some("panka"))
            .then_compute_output(move |_| {
                n();
                DeleteRolePolicyOutput::builder().build()
            });
        // The spec's own permissions (none here) and managed policies (none) go first.
        let permissions = mock!(aws_sdk_iam::Client::delete_role_policy)
            .match_requests(|r| r.policy_name() == Some("panka-permissions"))
            .then_output(|| DeleteRolePolicyOutput::builder().build());
        let attached = mock!(aws_sdk_iam::Client::list_attached_role_policies).then_output(|| {
            aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput::builder()
                .build()
        });
        let n = logged("DeleteRole");
        let role = mock!(aws_sdk_iam::Client::delete_role).then_compute_output(move |_| {
            n();
            DeleteRoleOutput::builder().build()
        });
        provider(
            mock_client!(
                aws_sdk_lambda,
                RuleMode::MatchAny,
                [&get, &mappings, &delete]
            ),
            Others {
                iam: mock_client!(
                    aws_sdk_iam,
                    RuleMode::MatchAny,
                    [&policy, &permissions, &attached, &role]
                ),
                logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&group]),
                events: mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&rules]),
                ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &eni, &sg]),
            },
        )
    }

    fn vpc_ids() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("function".to_string(), NAME.to_string()),
            ("securityGroup".to_string(), "sg-0lambda".to_string()),
        ])
    }

    /// Destroying a VPC function: the function, then its network interface waited for while
    /// Lambda still uses it and deleted once detached, then the security group, the log group,
    /// and the role last (Lambda deletes the interfaces with it).
    #[tokio::test]
    async fn a_vpc_function_is_deleted_before_its_interfaces_its_security_group_and_role() {
        let log: Log = Arc::default();
        // In use; detached; still listed a moment after it was deleted; gone.
        let looks = vec![vec!["in-use"], vec!["available"], vec!["available"], vec![]];
        let p = vpc_delete(&log, looks);
        p.delete(NAME, Some(spec()), &vpc_ids()).await.unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            [
                "DeleteFunction",
                "DescribeNetworkInterfaces",
                "DescribeNetworkInterfaces",
                "DeleteNetworkInterface",
                "DescribeNetworkInterfaces",
                "DeleteNetworkInterface",
                "DescribeNetworkInterfaces",
                "DeleteSecurityGroup",
                "DeleteLogGroup",
                "DeleteRolePolicy",
                "DeleteRole",
            ]
        );
    }

    /// Interfaces still in use when the wait runs out: the delete fails naming them, and
    /// neither the security group nor the role is touched (Lambda needs the role to delete
    /// them).
    #[tokio::test]
    async fn interfaces_still_in_use_fail_the_delete_before_the_security_group_and_role() {
        let log: Log = Arc::default();
        let mut p = vpc_delete(&log, vec![vec!["in-use"]; 1000]);
        p.eni_wait.timeout = Duration::from_millis(30);
        let err = p.delete(NAME, Some(spec()), &vpc_ids()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Timeout);
        assert!(err.message.contains("eni-0hyperplane"), "{}", err.message);
        assert_eq!(calls(&log, "DeleteSecurityGroup"), 0);
        assert_eq!(calls(&log, "DeleteRole"), 0);
    }

    #[test]
    fn the_role_trusts_the_partitions_lambda_principal_and_logs_arns_follow_it() {
        assert!(assume_lambda("cn-north-1").contains("\"lambda.amazonaws.com\""));
        let tags = owner_tags("webhook");
        let config = json!({});
        let mut t = target(spec(), &tags, &config);
        t.region = "cn-north-1";
        let s = statements(&t).unwrap();
        assert_eq!(
            s[0]["Resource"],
            "arn:aws-cn:logs:cn-north-1:*:log-group:/aws/lambda/shop-dev-payments-webhook:*"
        );
    }
}
