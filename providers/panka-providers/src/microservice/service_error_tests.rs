//! CreateService and UpdateService answers while AWS is still wiring the service's
//! dependencies (aws-smithy-mocks). The messages are ECS's, as terraform-provider-aws matches
//! them in `internal/service/ecs/service.go`; the API reference lists the error codes:
//! https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html#API_CreateService_Errors

use aws_sdk_ecs::operation::create_service::CreateServiceError;
use aws_sdk_ecs::types::error::{ClusterNotFoundException, InvalidParameterException};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::*;

/// The error CreateService answers `answer` with, as the provider classifies it.
async fn classified(
    answer: impl Fn() -> CreateServiceError + Send + Sync + 'static,
) -> ProviderError {
    let rule = mock!(aws_sdk_ecs::Client::create_service).then_error(answer);
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::Sequential, [&rule]);
    let e = ecs
        .create_service()
        .cluster("shop-dev")
        .service_name("shop-dev-orders-api")
        .send()
        .await
        .unwrap_err();
    aws_error_when(
        "creating ECS service shop-dev-orders-api",
        e,
        Transient::DependencyNotReady,
        service_not_ready,
    )
}

fn invalid(message: &str) -> CreateServiceError {
    CreateServiceError::InvalidParameterException(
        InvalidParameterException::builder()
            .message(message)
            .meta(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("InvalidParameterException")
                    .message(message)
                    .build(),
            )
            .build(),
    )
}

#[tokio::test]
async fn a_target_group_not_yet_associated_and_a_service_linked_role_being_made_are_retried() {
    for message in [
        "The target group with targetGroupArn arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-dev-orders-api-http/0123456789abcdef does not have an associated load balancer.",
        "Unable to assume the service linked role. Please verify that the ECS service linked role exists.",
        "Please verify that the ECS service role being passed has the proper permissions.",
    ] {
        let err = classified(move || invalid(message)).await;
        assert_eq!(
            err.kind,
            ErrorKind::Transient(Transient::DependencyNotReady),
            "{message}"
        );
    }
    let err = classified(|| {
        CreateServiceError::ClusterNotFoundException(
            ClusterNotFoundException::builder()
                .message("Cluster not found.")
                .meta(
                    aws_smithy_types::error::ErrorMetadata::builder()
                        .code("ClusterNotFoundException")
                        .build(),
                )
                .build(),
        )
    })
    .await;
    assert_eq!(
        err.kind,
        ErrorKind::Transient(Transient::DependencyNotReady)
    );
}

#[tokio::test]
async fn any_other_invalid_parameter_fails_at_once() {
    let err =
        classified(|| invalid("subnet-0abc is not in the VPC of security group sg-0def.")).await;
    assert!(!err.kind.is_transient(), "{:?}", err.kind);
    assert!(
        err.message.contains("creating ECS service"),
        "{}",
        err.message
    );
}
