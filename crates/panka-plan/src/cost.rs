//! Monthly cost estimates from an embedded, dated price table.
//!
//! Prices are AWS's public on-demand list prices in USD for Linux, as of [`PRICES_AS_OF`], for
//! us-east-1 and eu-west-1 (other regions use us-east-1's, and the estimate says so). A month is
//! 730 hours. Only what a configuration determines is counted: instance hours, provisioned
//! capacity and allocated storage. Usage-priced kinds (requests, bytes stored, messages) count as
//! zero and are listed as usage-based.

use panka_graph::ResourceKind;
use serde_json::Value;

use panka_format::Kind;

/// The date of the price table.
pub const PRICES_AS_OF: &str = "2026-11-01";

/// Hours in a month, as AWS's own calculator counts them.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Regions with their own prices in the table.
pub const PRICED_REGIONS: &[&str] = &["us-east-1", "eu-west-1"];

/// Regional prices.
#[derive(Debug, Clone, Copy)]
struct Prices {
    fargate_vcpu_hour: f64,
    fargate_gb_hour: f64,
    /// Graviton (ARM64) tasks cost this fraction of x86 ones.
    fargate_arm_factor: f64,
    alb_hour: f64,
    alb_lcu_hour: f64,
    nlb_hour: f64,
    rds_gp3_gb_month: f64,
    rds_gp2_gb_month: f64,
    rds_io_gb_month: f64,
    rds_piops_month: f64,
    ebs_gp3_gb_month: f64,
    ebs_gp2_gb_month: f64,
    ebs_io_gb_month: f64,
    ebs_st1_gb_month: f64,
    ebs_sc1_gb_month: f64,
    ebs_piops_month: f64,
    ddb_rcu_hour: f64,
    ddb_wcu_hour: f64,
    msk_storage_gb_month: f64,
    /// Multiplier on us-east-1 instance prices for instance classes.
    instance_factor: f64,
}

const US_EAST_1: Prices = Prices {
    fargate_vcpu_hour: 0.04048,
    fargate_gb_hour: 0.004445,
    fargate_arm_factor: 0.8,
    alb_hour: 0.0225,
    alb_lcu_hour: 0.008,
    nlb_hour: 0.0225,
    rds_gp3_gb_month: 0.115,
    rds_gp2_gb_month: 0.115,
    rds_io_gb_month: 0.125,
    rds_piops_month: 0.10,
    ebs_gp3_gb_month: 0.08,
    ebs_gp2_gb_month: 0.10,
    ebs_io_gb_month: 0.125,
    ebs_st1_gb_month: 0.045,
    ebs_sc1_gb_month: 0.015,
    ebs_piops_month: 0.065,
    ddb_rcu_hour: 0.00013,
    ddb_wcu_hour: 0.00065,
    msk_storage_gb_month: 0.10,
    instance_factor: 1.0,
};

const EU_WEST_1: Prices = Prices {
    fargate_vcpu_hour: 0.04048,
    fargate_gb_hour: 0.004445,
    fargate_arm_factor: 0.8,
    alb_hour: 0.0252,
    alb_lcu_hour: 0.008,
    nlb_hour: 0.0252,
    rds_gp3_gb_month: 0.127,
    rds_gp2_gb_month: 0.127,
    rds_io_gb_month: 0.138,
    rds_piops_month: 0.11,
    ebs_gp3_gb_month: 0.088,
    ebs_gp2_gb_month: 0.11,
    ebs_io_gb_month: 0.138,
    ebs_st1_gb_month: 0.05,
    ebs_sc1_gb_month: 0.0168,
    ebs_piops_month: 0.072,
    ddb_rcu_hour: 0.000147,
    ddb_wcu_hour: 0.000735,
    msk_storage_gb_month: 0.11,
    instance_factor: 1.1,
};

/// us-east-1 hourly prices of database instance classes (PostgreSQL/MySQL single-AZ).
const RDS_CLASSES: &[(&str, f64)] = &[
    ("db.t4g.micro", 0.016),
    ("db.t4g.small", 0.032),
    ("db.t4g.medium", 0.065),
    ("db.t4g.large", 0.129),
    ("db.t3.micro", 0.018),
    ("db.t3.small", 0.036),
    ("db.t3.medium", 0.072),
    ("db.m6g.large", 0.152),
    ("db.m6g.xlarge", 0.304),
    ("db.m7g.large", 0.168),
    ("db.m7g.xlarge", 0.336),
    ("db.r6g.large", 0.225),
    ("db.r6g.xlarge", 0.45),
    ("db.r6g.2xlarge", 0.899),
    ("db.r7g.large", 0.239),
    ("db.r7g.xlarge", 0.478),
];

/// us-east-1 hourly prices of DocumentDB instance classes.
const DOCDB_CLASSES: &[(&str, f64)] = &[
    ("db.t4g.medium", 0.078),
    ("db.t3.medium", 0.078),
    ("db.r6g.large", 0.277),
    ("db.r6g.xlarge", 0.554),
    ("db.r5.large", 0.277),
];

/// us-east-1 hourly prices of ElastiCache node types.
const CACHE_NODES: &[(&str, f64)] = &[
    ("cache.t4g.micro", 0.016),
    ("cache.t4g.small", 0.032),
    ("cache.t4g.medium", 0.065),
    ("cache.t3.micro", 0.017),
    ("cache.m7g.large", 0.158),
    ("cache.m6g.large", 0.149),
    ("cache.r7g.large", 0.219),
    ("cache.r6g.large", 0.206),
    ("cache.r7g.xlarge", 0.437),
];

/// us-east-1 hourly prices of MSK broker types.
const MSK_BROKERS: &[(&str, f64)] = &[
    ("kafka.t3.small", 0.0456),
    ("kafka.m5.large", 0.21),
    ("kafka.m7g.large", 0.204),
    ("kafka.m5.xlarge", 0.42),
    ("kafka.m7g.xlarge", 0.408),
];

fn prices(region: &str) -> Prices {
    match region {
        "eu-west-1" => EU_WEST_1,
        _ => US_EAST_1,
    }
}

/// What one resource costs per month.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MonthlyCost {
    /// Determined by configuration.
    Fixed(f64),
    /// Priced by use (requests, bytes, messages): counted as zero.
    UsageBased,
    /// An instance class or node type the table does not hold: counted as zero and reported.
    Unknown,
}

impl MonthlyCost {
    pub fn amount(self) -> f64 {
        match self {
            MonthlyCost::Fixed(v) => v,
            _ => 0.0,
        }
    }
}

fn hourly(table: &[(&str, f64)], class: &str, factor: f64) -> Option<f64> {
    table
        .iter()
        .find(|(c, _)| *c == class)
        .map(|(_, p)| p * factor)
}

fn u(v: &Value, path: &[&str]) -> f64 {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_f64().unwrap_or(0.0)
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_default()
}

fn b(v: &Value, path: &[&str]) -> bool {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_bool().unwrap_or(false)
}

/// The monthly cost of a resource of `kind` with configuration `config` in `region`.
pub fn monthly_cost(kind: ResourceKind, config: &Value, region: &str) -> MonthlyCost {
    let p = prices(region);
    let spec = &config["spec"];
    let fixed = |v: f64| MonthlyCost::Fixed((v * 100.0).round() / 100.0);
    match kind {
        ResourceKind::SharedCluster => fixed(0.0),
        // One LCU of baseline capacity: an idle ALB still pays for its hours and a minimal load.
        ResourceKind::SharedLoadBalancer => fixed((p.alb_hour + p.alb_lcu_hour) * HOURS_PER_MONTH),
        ResourceKind::Component(k) => match k {
            Kind::MicroService | Kind::Worker => {
                let infra = &config["infra"];
                let vcpu = u(infra, &["resources", "cpu"]) / 1024.0;
                let gb = u(infra, &["resources", "memory"]) / 1024.0;
                let tasks = u(infra, &["scaling", "replicas"]).max(0.0);
                let arm = if s(spec, &["cpuArchitecture"]) == "ARM64" {
                    p.fargate_arm_factor
                } else {
                    1.0
                };
                fixed(
                    (vcpu * p.fargate_vcpu_hour + gb * p.fargate_gb_hour)
                        * arm
                        * tasks
                        * HOURS_PER_MONTH,
                )
            }
            Kind::RDS => {
                let Some(h) = hourly(
                    RDS_CLASSES,
                    s(spec, &["instance", "class"]),
                    p.instance_factor,
                ) else {
                    return MonthlyCost::Unknown;
                };
                let az = if b(spec, &["availability", "multiAZ"]) {
                    2.0
                } else {
                    1.0
                };
                let gb = u(spec, &["instance", "storage", "allocatedGB"]);
                let per_gb = match s(spec, &["instance", "storage", "type"]) {
                    "gp2" => p.rds_gp2_gb_month,
                    "io1" | "io2" => p.rds_io_gb_month,
                    _ => p.rds_gp3_gb_month,
                };
                let iops = match s(spec, &["instance", "storage", "type"]) {
                    "io1" | "io2" => u(spec, &["instance", "storage", "iops"]) * p.rds_piops_month,
                    _ => 0.0,
                };
                fixed((h * HOURS_PER_MONTH + gb * per_gb + iops) * az)
            }
            Kind::DocumentDB => match hourly(
                DOCDB_CLASSES,
                s(spec, &["instanceClass"]),
                p.instance_factor,
            ) {
                Some(h) => fixed(h * HOURS_PER_MONTH * u(spec, &["instances"]).max(1.0)),
                None => MonthlyCost::Unknown,
            },
            Kind::ElastiCacheRedis => {
                match hourly(CACHE_NODES, s(spec, &["nodeType"]), p.instance_factor) {
                    Some(h) => {
                        let nodes = u(spec, &["shards"]).max(1.0) * (1.0 + u(spec, &["replicas"]));
                        fixed(h * HOURS_PER_MONTH * nodes)
                    }
                    None => MonthlyCost::Unknown,
                }
            }
            Kind::ElastiCacheMemcached => {
                match hourly(CACHE_NODES, s(spec, &["nodeType"]), p.instance_factor) {
                    Some(h) => fixed(h * HOURS_PER_MONTH * u(spec, &["nodes"]).max(1.0)),
                    None => MonthlyCost::Unknown,
                }
            }
            Kind::MSK => match hourly(MSK_BROKERS, s(spec, &["instanceType"]), p.instance_factor) {
                Some(h) => {
                    let brokers = u(spec, &["brokerNodes"]);
                    fixed(
                        brokers
                            * (h * HOURS_PER_MONTH
                                + u(spec, &["storageGB"]) * p.msk_storage_gb_month),
                    )
                }
                None => MonthlyCost::Unknown,
            },
            Kind::EBS => {
                let gb = u(spec, &["sizeGB"]);
                let (per_gb, piops) = match s(spec, &["type"]) {
                    "gp2" => (p.ebs_gp2_gb_month, 0.0),
                    "io1" | "io2" => (p.ebs_io_gb_month, u(spec, &["iops"]) * p.ebs_piops_month),
                    "st1" => (p.ebs_st1_gb_month, 0.0),
                    "sc1" => (p.ebs_sc1_gb_month, 0.0),
                    _ => (p.ebs_gp3_gb_month, 0.0),
                };
                fixed(gb * per_gb + piops)
            }
            Kind::DynamoDB => {
                if s(spec, &["billing", "mode"]) == "PROVISIONED" {
                    let r = u(spec, &["billing", "readCapacity"]);
                    let w = u(spec, &["billing", "writeCapacity"]);
                    fixed((r * p.ddb_rcu_hour + w * p.ddb_wcu_hour) * HOURS_PER_MONTH)
                } else {
                    MonthlyCost::UsageBased
                }
            }
            Kind::ALB => fixed((p.alb_hour + p.alb_lcu_hour) * HOURS_PER_MONTH),
            Kind::NLB => fixed(p.nlb_hour * HOURS_PER_MONTH),
            // Lambda has no baseline; the others are priced per request, message or byte.
            Kind::Lambda
            | Kind::CronJob
            | Kind::S3
            | Kind::SQS
            | Kind::SNS
            | Kind::EFS
            | Kind::EventBridge
            | Kind::CloudFront
            | Kind::APIGateway => MonthlyCost::UsageBased,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fargate_scales_with_size_and_replicas() {
        let k = ResourceKind::Component(Kind::MicroService);
        let one = monthly_cost(
            k,
            &json!({"spec": {}, "infra": {"resources": {"cpu": 256, "memory": 512}, "scaling": {"replicas": 1}}}),
            "us-east-1",
        );
        let four = monthly_cost(
            k,
            &json!({"spec": {}, "infra": {"resources": {"cpu": 1024, "memory": 2048}, "scaling": {"replicas": 1}}}),
            "us-east-1",
        );
        let one_a = one.amount();
        // 0.25 vCPU and 0.5 GB: (0.25 * 0.04048 + 0.5 * 0.004445) * 730 = 9.01
        assert!((one_a - 9.01).abs() < 0.01, "{one_a}");
        assert!((four.amount() - 4.0 * one_a).abs() < 0.05);
    }

    #[test]
    fn rds_multi_az_doubles_and_unknown_classes_are_reported() {
        let k = ResourceKind::Component(Kind::RDS);
        let single = json!({"spec": {"instance": {"class": "db.t4g.micro", "storage": {"allocatedGB": 20, "type": "gp3"}}, "availability": {"multiAZ": false}}});
        let multi = json!({"spec": {"instance": {"class": "db.t4g.micro", "storage": {"allocatedGB": 20, "type": "gp3"}}, "availability": {"multiAZ": true}}});
        let a = monthly_cost(k, &single, "us-east-1").amount();
        assert!((a - (0.016 * 730.0 + 20.0 * 0.115)).abs() < 0.01, "{a}");
        assert!((monthly_cost(k, &multi, "us-east-1").amount() - 2.0 * a).abs() < 0.02);
        assert!(monthly_cost(k, &single, "eu-west-1").amount() > a);
        let odd = json!({"spec": {"instance": {"class": "db.x9.huge"}}});
        assert_eq!(monthly_cost(k, &odd, "us-east-1"), MonthlyCost::Unknown);
    }
}
