output "state_bucket" {
  value = aws_s3_bucket.state.id
}

output "lock_table" {
  value = aws_dynamodb_table.locks.name
}

output "backend_policy_arn" {
  description = "Attach to the role panka runs as"
  value       = aws_iam_policy.panka_backend.arn
}
