variable "state_bucket" {
  description = "Name of the S3 bucket holding panka state (stack.yaml: spec.backend.s3.bucket)"
  type        = string
}

variable "lock_table" {
  description = "Name of the DynamoDB lock table (stack.yaml: spec.backend.s3.lockTable)"
  type        = string
}

variable "noncurrent_state_days" {
  description = "Days to keep superseded versions of state objects"
  type        = number
  default     = 90
}

variable "history_days" {
  description = "Days to keep deployment history objects"
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for the bucket and the table"
  type        = map(string)
  default     = { "managed-by" = "terraform" }
}
