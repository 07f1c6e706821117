//! AWS partitions: the first part of every ARN (`arn:PARTITION:…`) and the DNS suffix of service
//! principals depend on the region's partition, so they are derived from the region, never
//! written as literals. (AWS General Reference, "Amazon Resource Names": `aws`, `aws-cn` for the
//! China regions, `aws-us-gov` for AWS GovCloud (US); terraform-provider-aws derives them the
//! same way from the region, internal/conns/awsclient.go `Partition`.)

/// The partition a region belongs to: `aws`, `aws-cn` or `aws-us-gov` (also `aws-iso`,
/// `aws-iso-b`, `aws-iso-e`, `aws-iso-f` for the isolated regions).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else {
        "aws"
    }
}

/// An ARN in the region's partition: `arn(region, "sqs", region, account, "queue-name")`.
/// Global services (IAM, S3, CloudFront) pass `""` for the region part.
pub fn arn(region: &str, service: &str, arn_region: &str, account: &str, resource: &str) -> String {
    format!(
        "arn:{}:{service}:{arn_region}:{account}:{resource}",
        partition(region)
    )
}

/// The DNS suffix of the region's partition: `amazonaws.com`, or `amazonaws.com.cn` in China.
pub fn dns_suffix(region: &str) -> &'static str {
    match partition(region) {
        "aws-cn" => "amazonaws.com.cn",
        "aws-iso" => "c2s.ic.gov",
        "aws-iso-b" => "sc2s.sgov.gov",
        "aws-iso-e" => "cloud.adc-e.uk",
        "aws-iso-f" => "csp.hci.ic.gov",
        _ => "amazonaws.com",
    }
}

/// A service principal for IAM trust and resource policies: `lambda.amazonaws.com`. AWS uses
/// the `amazonaws.com` form for service principals in every partition today, including China
/// for most services (IAM User Guide, "AWS service principals"); the exceptions, which keep the
/// partition's suffix, are listed here.
pub fn service_principal(service: &str, region: &str) -> String {
    // Services whose principal in China still carries the partition's suffix (per the IAM
    // User Guide's service principal notes and terraform-provider-aws
    // internal/service/iam/service_principal.go).
    const PARTITION_SUFFIXED_IN_CHINA: &[&str] =
        &["ec2", "elasticmapreduce", "application-autoscaling"];
    if partition(region) == "aws-cn" && PARTITION_SUFFIXED_IN_CHINA.contains(&service) {
        format!("{service}.{}", dns_suffix(region))
    } else {
        format!("{service}.amazonaws.com")
    }
}

/// The partition named in an ARN (`arn:aws-cn:…` → `aws-cn`).
pub fn of_arn(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?.split(':').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_their_partitions() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-iso-east-1"), "aws-iso");
        assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
    }

    #[test]
    fn arns_and_principals_follow_the_partition() {
        assert_eq!(
            arn("cn-north-1", "sqs", "cn-north-1", "123456789012", "q"),
            "arn:aws-cn:sqs:cn-north-1:123456789012:q"
        );
        assert_eq!(
            arn("us-gov-west-1", "s3", "", "", "bucket"),
            "arn:aws-us-gov:s3:::bucket"
        );
        assert_eq!(
            service_principal("lambda", "cn-north-1"),
            "lambda.amazonaws.com"
        );
        assert_eq!(
            service_principal("ec2", "cn-north-1"),
            "ec2.amazonaws.com.cn"
        );
        assert_eq!(
            service_principal("ecs-tasks", "us-gov-west-1"),
            "ecs-tasks.amazonaws.com"
        );
        assert_eq!(of_arn("arn:aws-cn:sqs:cn-north-1:1:q"), Some("aws-cn"));
    }
}
