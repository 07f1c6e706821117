# Bootstraps panka's backend for teams that manage such things with Terraform: the S3 state
# bucket and the DynamoDB lock table, configured as `panka backend init` would create them, and
# the least-privilege IAM policy panka's own state and lock handling needs.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

resource "aws_s3_bucket" "state" {
  bucket = var.state_bucket
  tags   = var.tags
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    id     = "expire-noncurrent-state"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_state_days
    }
  }

  rule {
    id     = "expire-history"
    status = "Enabled"
    # History objects live under stacks/{stack}/{env}/history/. A prefix filter cannot hold a
    # wildcard for the stack and environment, so the rule keys on the tag panka puts on every
    # history object (and never on state.json).
    filter {
      tag {
        key   = "panka:object"
        value = "history"
      }
    }
    expiration {
      days = var.history_days
    }
  }
}

resource "aws_dynamodb_table" "locks" {
  name         = var.lock_table
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "lockScope"
  range_key    = "lockName"

  # lockScope is `stack/environment`; lockName is `*` for a whole-stack lock or `service:NAME`.
  attribute {
    name = "lockScope"
    type = "S"
  }

  attribute {
    name = "lockName"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}

data "aws_iam_policy_document" "panka_backend" {
  statement {
    sid       = "StateBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketVersioning"]
  }
  statement {
    sid       = "History"
    actions   = ["s3:PutObjectTagging"]
    resources = ["${aws_s3_bucket.state.arn}/stacks/*/history/*"]
    resources = [aws_s3_bucket.state.arn]
  }
  statement {
    sid       = "StateObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.state.arn}/stacks/*"]
  }
  statement {
    sid       = "Locks"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive"]
    resources = [aws_dynamodb_table.locks.arn]
  }
}

resource "aws_iam_policy" "panka_backend" {
  name        = "${var.lock_table}-backend"
  description = "What panka needs for its state bucket and lock table"
  policy      = data.aws_iam_policy_document.panka_backend.json
}
