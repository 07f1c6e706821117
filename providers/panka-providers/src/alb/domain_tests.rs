//! Replays of ACM and Route 53 answers for the shared load balancer's domain.

use super::*;
use aws_sdk_acm::operation::describe_certificate::DescribeCertificateOutput;
use aws_sdk_acm::types::{CertificateDetail, FailureReason};
use aws_sdk_route53::operation::list_hosted_zones_by_name::ListHostedZonesByNameOutput;
use aws_sdk_route53::types::{HostedZone, HostedZoneConfig};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

const ARN: &str = "arn:aws:acm:us-east-1:123456789012:certificate/0f6b7d3e";

/// DescribeCertificate's answer for a certificate in `status`.
/// https://docs.aws.amazon.com/acm/latest/APIReference/API_DescribeCertificate.html
fn described(
    status: CertificateStatus,
    reason: Option<FailureReason>,
) -> DescribeCertificateOutput {
    DescribeCertificateOutput::builder()
        .certificate(
            CertificateDetail::builder()
                .certificate_arn(ARN)
                .domain_name("api.example.com")
                .status(status)
                .set_failure_reason(reason)
                .build(),
        )
        .build()
}

/// PENDING_VALIDATION is waited through (one poll later) until ISSUED.
#[tokio::test]
async fn the_certificate_is_waited_for_from_pending_validation_to_issued() {
    let rule = mock!(aws_sdk_acm::Client::describe_certificate)
        .match_requests(|r| r.certificate_arn() == Some(ARN))
        .sequence()
        .output(|| described(CertificateStatus::PendingValidation, None))
        .output(|| described(CertificateStatus::Issued, None))
        .build();
    let acm = mock_client!(aws_sdk_acm, RuleMode::Sequential, [&rule]);
    wait_certificate_issued(&acm, ARN, "api.example.com")
        .await
        .unwrap();
    assert_eq!(rule.num_calls(), 2);
}

/// A certificate that fails validation stops the wait at once, with ACM's reason
/// (terraform-provider-aws certificate_validation.go sets `FailureReason` as the last error).
#[tokio::test]
async fn a_failed_certificate_surfaces_its_reason() {
    let rule = mock!(aws_sdk_acm::Client::describe_certificate)
        .sequence()
        .output(|| described(CertificateStatus::Failed, Some(FailureReason::CaaError)))
        .build();
    let acm = mock_client!(aws_sdk_acm, RuleMode::Sequential, [&rule]);
    let e = wait_certificate_issued(&acm, ARN, "api.example.com")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid);
    assert!(e.message.contains("FAILED: CAA_ERROR"), "{}", e.message);
    assert!(e.message.contains("api.example.com"), "{}", e.message);
    assert_eq!(rule.num_calls(), 1);
}

fn zone(id: &str, name: &str, private: bool) -> HostedZone {
    HostedZone::builder()
        .id(format!("/hostedzone/{id}"))
        .name(name)
        .caller_reference("ref")
        .config(HostedZoneConfig::builder().private_zone(private).build())
        .build()
        .unwrap()
}

/// The zone is the public one of the name (a private zone of the same name is skipped), its id
/// without the `/hostedzone/` prefix; a name with no public zone is refused, naming it.
/// https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListHostedZonesByName.html
#[tokio::test]
async fn the_public_zone_of_the_name_is_found() {
    let listed = mock!(aws_sdk_route53::Client::list_hosted_zones_by_name)
        .match_requests(|r| r.dns_name() == Some("example.com"))
        .then_output(|| {
            ListHostedZonesByNameOutput::builder()
                .hosted_zones(zone("ZPRIVATE", "example.com.", true))
                .hosted_zones(zone("ZPUBLIC", "example.com.", false))
                .hosted_zones(zone("ZNEXT", "example.net.", false))
                .is_truncated(false)
                .max_items(100)
                .build()
                .unwrap()
        });
    let other = mock!(aws_sdk_route53::Client::list_hosted_zones_by_name)
        .match_requests(|r| r.dns_name() == Some("example.org"))
        .then_output(|| {
            ListHostedZonesByNameOutput::builder()
                .hosted_zones(zone("ZNEXT", "example.pl.", false))
                .is_truncated(false)
                .max_items(100)
                .build()
                .unwrap()
        });
    let route53 = mock_client!(aws_sdk_route53, [&listed, &other]);
    assert_eq!(
        find_public_zone(&route53, "example.com").await.unwrap(),
        "ZPUBLIC"
    );
    let e = find_public_zone(&route53, "example.org").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid);
    assert!(e.message.contains("example.org"), "{}", e.message);
}

/// The token is ACM's shape (`\w+`, at most 32 characters), the same for the same load balancer
/// and host, and another for another host.
#[test]
fn idempotency_tokens_are_stable_per_host() {
    let t = idempotency_token("shop-dev", "api.example.com");
    assert!(t.len() <= 32 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    assert_eq!(t, idempotency_token("shop-dev", "api.example.com"));
    assert_ne!(t, idempotency_token("shop-dev", "www.example.com"));
}

/// A domain's ids: the zone, and per host its certificate and record types; read back as the
/// recorded certificates.
#[test]
fn domain_ids_round_trip() {
    let certs = BTreeMap::from([("api.example.com".to_string(), ARN.to_string())]);
    let ids = domain_ids("Z1", &certs, &alias_types(true));
    assert_eq!(ids["zone"], "Z1");
    assert_eq!(ids["record.api.example.com"], "A,AAAA");
    assert_eq!(recorded_certificates(&ids), certs);
}
