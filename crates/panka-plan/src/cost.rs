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
use panka_format::kinds::{
    BillingMode, ComponentSpec, CpuArchitecture, EbsVolumeType, RdsStorageType,
};
use panka_format::model::ComponentInfraSpec;

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

/// A field of an enumeration, read leniently: absent or unknown is the default.
fn e<T: serde::de::DeserializeOwned + Default>(v: &Value, path: &[&str]) -> T {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    T::deserialize(cur).unwrap_or_default()
}

/// What a resource's monthly cost depends on, read from its typed spec (a desired component)
/// or from a recorded configuration; one set of formulas prices both.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Priced<'a> {
    Nothing,
    /// Load balancer hours and one LCU of baseline capacity: an idle ALB still pays for its hours
    /// and a minimal load.
    Alb,
    Nlb,
    Fargate {
        cpu_units: f64,
        memory_mb: f64,
        tasks: f64,
        arm: bool,
    },
    Rds {
        class: &'a str,
        multi_az: bool,
        gb: f64,
        storage: RdsStorageType,
        iops: f64,
    },
    DocumentDb {
        class: &'a str,
        instances: f64,
    },
    Redis {
        node_type: &'a str,
        shards: f64,
        replicas: f64,
    },
    Memcached {
        node_type: &'a str,
        nodes: f64,
    },
    Msk {
        broker_type: &'a str,
        brokers: f64,
        storage_gb: f64,
    },
    Ebs {
        gb: f64,
        volume: EbsVolumeType,
        iops: f64,
    },
    DynamoDb {
        provisioned: bool,
        read: f64,
        write: f64,
    },
    /// Lambda has no baseline; the others are priced per request, message or byte.
    UsageBased,
}

impl<'a> Priced<'a> {
    /// Read from a configuration (`{spec, infra, ...}`); absent fields count as zero.
    fn of_config(kind: ResourceKind, config: &'a Value) -> Self {
        let spec = &config["spec"];
        let infra = &config["infra"];
        let ResourceKind::Component(k) = kind else {
            return match kind {
                ResourceKind::SharedLoadBalancer => Priced::Alb,
                _ => Priced::Nothing,
            };
        };
        match k {
            Kind::MicroService | Kind::Worker => Priced::Fargate {
                cpu_units: u(infra, &["resources", "cpu"]),
                memory_mb: u(infra, &["resources", "memory"]),
                tasks: u(infra, &["scaling", "replicas"]),
                arm: e::<CpuArchitecture>(spec, &["cpuArchitecture"]) == CpuArchitecture::Arm64,
            },
            Kind::RDS => Priced::Rds {
                class: s(spec, &["instance", "class"]),
                multi_az: b(spec, &["availability", "multiAZ"]),
                gb: u(spec, &["instance", "storage", "allocatedGB"]),
                storage: e(spec, &["instance", "storage", "type"]),
                iops: u(spec, &["instance", "storage", "iops"]),
            },
            Kind::DocumentDB => Priced::DocumentDb {
                class: s(spec, &["instanceClass"]),
                instances: u(spec, &["instances"]),
            },
            Kind::ElastiCacheRedis => Priced::Redis {
                node_type: s(spec, &["nodeType"]),
                shards: u(spec, &["shards"]),
                replicas: u(spec, &["replicas"]),
            },
            Kind::ElastiCacheMemcached => Priced::Memcached {
                node_type: s(spec, &["nodeType"]),
                nodes: u(spec, &["nodes"]),
            },
            Kind::MSK => Priced::Msk {
                broker_type: s(spec, &["instanceType"]),
                brokers: u(spec, &["brokerNodes"]),
                storage_gb: u(spec, &["storageGB"]),
            },
            Kind::EBS => Priced::Ebs {
                gb: u(spec, &["sizeGB"]),
                volume: e(spec, &["type"]),
                iops: u(spec, &["iops"]),
            },
            Kind::DynamoDB => Priced::DynamoDb {
                provisioned: e::<BillingMode>(spec, &["billing", "mode"])
                    == BillingMode::Provisioned,
                read: u(spec, &["billing", "readCapacity"]),
                write: u(spec, &["billing", "writeCapacity"]),
            },
            Kind::ALB => Priced::Alb,
            Kind::NLB => Priced::Nlb,
            Kind::Lambda
            | Kind::CronJob
            | Kind::S3
            | Kind::SQS
            | Kind::SNS
            | Kind::EFS
            | Kind::EventBridge
            | Kind::CloudFront
            | Kind::APIGateway => Priced::UsageBased,
        }
    }

    /// Read from a component's typed spec and its infra with defaults filled in (the `infra`
    /// of its configuration).
    fn of_spec(spec: &'a ComponentSpec, infra: Option<&ComponentInfraSpec>) -> Self {
        let n = |v: u32| f64::from(v);
        let fargate = |arch: CpuArchitecture| Priced::Fargate {
            cpu_units: infra.map_or(0.0, |i| n(i.resources.cpu)),
            memory_mb: infra.map_or(0.0, |i| n(i.resources.memory)),
            tasks: infra
                .and_then(|i| i.scaling.as_ref())
                .map_or(0.0, |s| n(s.replicas)),
            arm: arch == CpuArchitecture::Arm64,
        };
        match spec {
            ComponentSpec::MicroService(s) => fargate(s.cpu_architecture),
            ComponentSpec::Worker(s) => fargate(s.cpu_architecture),
            ComponentSpec::RDS(s) => Priced::Rds {
                class: &s.instance.class,
                multi_az: s.availability.multi_az,
                gb: n(s.instance.storage.allocated_gb),
                storage: s.instance.storage.storage_type,
                iops: s.instance.storage.iops.map_or(0.0, n),
            },
            ComponentSpec::DocumentDB(s) => Priced::DocumentDb {
                class: &s.instance_class,
                instances: n(s.instances),
            },
            ComponentSpec::ElastiCacheRedis(s) => Priced::Redis {
                node_type: &s.node_type,
                shards: n(s.shards),
                replicas: n(s.replicas),
            },
            ComponentSpec::ElastiCacheMemcached(s) => Priced::Memcached {
                node_type: &s.node_type,
                nodes: n(s.nodes),
            },
            ComponentSpec::MSK(s) => Priced::Msk {
                broker_type: &s.instance_type,
                brokers: n(s.broker_nodes),
                storage_gb: n(s.storage_gb),
            },
            ComponentSpec::EBS(s) => Priced::Ebs {
                gb: n(s.size_gb),
                volume: s.volume_type,
                iops: s.iops.map_or(0.0, n),
            },
            ComponentSpec::DynamoDB(s) => Priced::DynamoDb {
                provisioned: s.billing.mode == BillingMode::Provisioned,
                read: s.billing.read_capacity.map_or(0.0, n),
                write: s.billing.write_capacity.map_or(0.0, n),
            },
            ComponentSpec::ALB(_) => Priced::Alb,
            ComponentSpec::NLB(_) => Priced::Nlb,
            ComponentSpec::Lambda(_)
            | ComponentSpec::CronJob(_)
            | ComponentSpec::S3(_)
            | ComponentSpec::SQS(_)
            | ComponentSpec::SNS(_)
            | ComponentSpec::EFS(_)
            | ComponentSpec::EventBridge(_)
            | ComponentSpec::CloudFront(_)
            | ComponentSpec::APIGateway(_) => Priced::UsageBased,
        }
    }

    /// The instance class, node type or broker type priced, for kinds priced by one.
    fn class(&self) -> Option<&'a str> {
        match *self {
            Priced::Rds { class, .. } | Priced::DocumentDb { class, .. } => Some(class),
            Priced::Redis { node_type, .. } | Priced::Memcached { node_type, .. } => {
                Some(node_type)
            }
            Priced::Msk { broker_type, .. } => Some(broker_type),
            _ => None,
        }
    }

    fn monthly(self, region: &str) -> MonthlyCost {
        let p = prices(region);
        let fixed = |v: f64| MonthlyCost::Fixed((v * 100.0).round() / 100.0);
        let hours = |table, class| hourly(table, class, p.instance_factor);
        match self {
            Priced::Nothing => fixed(0.0),
            Priced::Alb => fixed((p.alb_hour + p.alb_lcu_hour) * HOURS_PER_MONTH),
            Priced::Nlb => fixed(p.nlb_hour * HOURS_PER_MONTH),
            Priced::Fargate {
                cpu_units,
                memory_mb,
                tasks,
                arm,
            } => {
                let factor = if arm { p.fargate_arm_factor } else { 1.0 };
                fixed(
                    (cpu_units / 1024.0 * p.fargate_vcpu_hour
                        + memory_mb / 1024.0 * p.fargate_gb_hour)
                        * factor
                        * tasks.max(0.0)
                        * HOURS_PER_MONTH,
                )
            }
            Priced::Rds {
                class,
                multi_az,
                gb,
                storage,
                iops,
            } => {
                let Some(h) = hours(RDS_CLASSES, class) else {
                    return MonthlyCost::Unknown;
                };
                let az = if multi_az { 2.0 } else { 1.0 };
                let (per_gb, iops) = match storage {
                    RdsStorageType::Gp2 => (p.rds_gp2_gb_month, 0.0),
                    RdsStorageType::Gp3 => (p.rds_gp3_gb_month, 0.0),
                    RdsStorageType::Io1 | RdsStorageType::Io2 => {
                        (p.rds_io_gb_month, iops * p.rds_piops_month)
                    }
                };
                fixed((h * HOURS_PER_MONTH + gb * per_gb + iops) * az)
            }
            Priced::DocumentDb { class, instances } => match hours(DOCDB_CLASSES, class) {
                Some(h) => fixed(h * HOURS_PER_MONTH * instances.max(1.0)),
                None => MonthlyCost::Unknown,
            },
            Priced::Redis {
                node_type,
                shards,
                replicas,
            } => match hours(CACHE_NODES, node_type) {
                Some(h) => fixed(h * HOURS_PER_MONTH * shards.max(1.0) * (1.0 + replicas)),
                None => MonthlyCost::Unknown,
            },
            Priced::Memcached { node_type, nodes } => match hours(CACHE_NODES, node_type) {
                Some(h) => fixed(h * HOURS_PER_MONTH * nodes.max(1.0)),
                None => MonthlyCost::Unknown,
            },
            Priced::Msk {
                broker_type,
                brokers,
                storage_gb,
            } => match hours(MSK_BROKERS, broker_type) {
                Some(h) => {
                    fixed(brokers * (h * HOURS_PER_MONTH + storage_gb * p.msk_storage_gb_month))
                }
                None => MonthlyCost::Unknown,
            },
            Priced::Ebs { gb, volume, iops } => {
                let (per_gb, piops) = match volume {
                    EbsVolumeType::Gp2 => (p.ebs_gp2_gb_month, 0.0),
                    EbsVolumeType::Gp3 => (p.ebs_gp3_gb_month, 0.0),
                    EbsVolumeType::Io1 | EbsVolumeType::Io2 => {
                        (p.ebs_io_gb_month, iops * p.ebs_piops_month)
                    }
                    EbsVolumeType::St1 => (p.ebs_st1_gb_month, 0.0),
                    EbsVolumeType::Sc1 => (p.ebs_sc1_gb_month, 0.0),
                };
                fixed(gb * per_gb + piops)
            }
            Priced::DynamoDb {
                provisioned: true,
                read,
                write,
            } => fixed((read * p.ddb_rcu_hour + write * p.ddb_wcu_hour) * HOURS_PER_MONTH),
            Priced::DynamoDb { .. } | Priced::UsageBased => MonthlyCost::UsageBased,
        }
    }
}

/// The monthly cost of a resource of `kind` with configuration `config` in `region`.
pub fn monthly_cost(kind: ResourceKind, config: &Value, region: &str) -> MonthlyCost {
    Priced::of_config(kind, config).monthly(region)
}

/// The monthly cost of a component from its typed spec and its infra with defaults filled in:
/// the same as [`monthly_cost`] of its configuration, without building the configuration.
pub fn component_cost(
    spec: &ComponentSpec,
    infra: Option<&ComponentInfraSpec>,
    region: &str,
) -> MonthlyCost {
    Priced::of_spec(spec, infra).monthly(region)
}

/// The instance class, node type or broker type a configuration is priced by.
pub fn priced_class(kind: ResourceKind, config: &Value) -> Option<&str> {
    Priced::of_config(kind, config).class()
}

/// [`priced_class`] of a component's typed spec.
pub fn component_priced_class(spec: &ComponentSpec) -> Option<&str> {
    Priced::of_spec(spec, None).class()
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

    #[test]
    fn typed_specs_and_configurations_are_priced_alike() {
        let cases = [
            (
                Kind::MicroService,
                json!({"image": {"repository": "a"}, "ports": [{"name": "http", "port": 80}], "cpuArchitecture": "ARM64"}),
            ),
            (Kind::Worker, json!({"image": {"repository": "a"}})),
            (
                Kind::RDS,
                json!({"engine": {"type": "postgres", "version": "16"}, "database": {"name": "d", "username": "u"},
                "instance": {"class": "db.m7g.large", "storage": {"allocatedGB": 100, "type": "io1", "iops": 3000}},
                "availability": {"multiAZ": true}}),
            ),
            (
                Kind::RDS,
                json!({"engine": {"type": "postgres", "version": "16"}, "database": {"name": "d", "username": "u"}, "instance": {"class": "db.x9.huge"}}),
            ),
            (
                Kind::DocumentDB,
                json!({"engineVersion": "5.0.0", "masterUsername": "u", "instanceClass": "db.r6g.large", "instances": 3}),
            ),
            (
                Kind::ElastiCacheRedis,
                json!({"engineVersion": "7.1", "nodeType": "cache.r7g.large", "shards": 2, "replicas": 1}),
            ),
            (
                Kind::ElastiCacheMemcached,
                json!({"engineVersion": "1.6.22", "nodeType": "cache.t4g.small", "nodes": 3}),
            ),
            (
                Kind::MSK,
                json!({"kafkaVersion": "3.6.0", "instanceType": "kafka.m7g.large", "brokerNodes": 3, "storageGB": 500}),
            ),
            (
                Kind::EBS,
                json!({"sizeGB": 200, "type": "io2", "iops": 4000}),
            ),
            (Kind::EBS, json!({"sizeGB": 500, "type": "st1"})),
            (
                Kind::DynamoDB,
                json!({"partitionKey": {"name": "id", "type": "S"},
                "billing": {"mode": "PROVISIONED", "readCapacity": 10, "writeCapacity": 5}}),
            ),
            (
                Kind::DynamoDB,
                json!({"partitionKey": {"name": "id", "type": "S"}}),
            ),
            (
                Kind::NLB,
                json!({"listeners": [{"port": 80, "protocol": "TCP", "target": {"component": "api"}}]}),
            ),
            (Kind::SQS, json!({})),
        ];
        let infra: ComponentInfraSpec = serde_json::from_value(
            json!({"resources": {"cpu": 1024, "memory": 4096}, "scaling": {"replicas": 3}}),
        )
        .unwrap();
        for (kind, spec) in cases {
            let typed = ComponentSpec::from_json(kind, spec.clone())
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            let infra = matches!(kind, Kind::MicroService | Kind::Worker).then_some(&infra);
            let config = json!({"spec": typed.to_json(), "infra": infra});
            for region in ["us-east-1", "eu-west-1"] {
                let from_config = monthly_cost(ResourceKind::Component(kind), &config, region);
                assert_eq!(
                    component_cost(&typed, infra, region),
                    from_config,
                    "{kind} {spec} in {region}"
                );
                assert_ne!(from_config, MonthlyCost::Fixed(0.0), "{kind} {spec}");
            }
            assert_eq!(
                component_priced_class(&typed),
                priced_class(ResourceKind::Component(kind), &config)
            );
        }
    }
}
