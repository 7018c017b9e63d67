terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}

variable "endpoint" { type = string }
variable "bucket" { type = string }
variable "access_key" { type = string }
variable "secret_key" {
  type      = string
  sensitive = true
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = var.access_key
  secret_key                  = var.secret_key
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    s3  = var.endpoint
    kms = var.endpoint
  }
}

resource "aws_kms_key" "k" {
  description             = "sealbox terraform test"
  deletion_window_in_days = 7
}

resource "aws_kms_alias" "k" {
  name          = "alias/tf-${var.bucket}"
  target_key_id = aws_kms_key.k.key_id
}

resource "aws_s3_bucket" "main" {
  bucket              = var.bucket
  object_lock_enabled = true
  tags                = { team = "ops", env = "test" }
}

resource "aws_s3_bucket_versioning" "main" {
  bucket = aws_s3_bucket.main.id
  versioning_configuration { status = "Enabled" }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "main" {
  bucket = aws_s3_bucket.main.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_alias.k.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "main" {
  bucket     = aws_s3_bucket.main.id
  depends_on = [aws_s3_bucket_versioning.main]
  rule {
    id     = "logs"
    status = "Enabled"
    filter { prefix = "logs/" }
    expiration { days = 30 }
  }
  rule {
    id     = "tmp-tagged"
    status = "Enabled"
    filter {
      and {
        prefix                   = "tmp/"
        object_size_greater_than = 100
        tags                     = { kind = "scratch" }
      }
    }
    noncurrent_version_expiration {
      noncurrent_days           = 7
      newer_noncurrent_versions = 2
    }
  }
  rule {
    id     = "uploads"
    status = "Disabled"
    filter {}
    abort_incomplete_multipart_upload { days_after_initiation = 3 }
  }
  rule {
    id     = "markers"
    status = "Enabled"
    filter { prefix = "old/" }
    expiration { expired_object_delete_marker = true }
  }
  rule {
    id     = "tagged"
    status = "Enabled"
    filter {
      tag {
        key   = "a"
        value = "b"
      }
    }
    expiration { date = "2030-01-01T00:00:00Z" }
  }
}

resource "aws_s3_bucket_object_lock_configuration" "main" {
  bucket     = aws_s3_bucket.main.id
  depends_on = [aws_s3_bucket_versioning.main]
  rule {
    default_retention {
      mode = "GOVERNANCE"
      days = 1
    }
  }
}

resource "aws_s3_bucket_public_access_block" "main" {
  bucket                  = aws_s3_bucket.main.id
  block_public_acls       = true
  block_public_policy     = false
  ignore_public_acls      = true
  restrict_public_buckets = false
}

resource "aws_s3_bucket_ownership_controls" "main" {
  bucket = aws_s3_bucket.main.id
  rule { object_ownership = "BucketOwnerPreferred" }
}

resource "aws_s3_bucket_acl" "main" {
  bucket     = aws_s3_bucket.main.id
  acl        = "private"
  depends_on = [aws_s3_bucket_ownership_controls.main]
}

resource "aws_s3_bucket_policy" "main" {
  bucket = aws_s3_bucket.main.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureDelete"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:DeleteBucket"
      Resource  = aws_s3_bucket.main.arn
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.main]
}

resource "aws_s3_bucket_cors_configuration" "main" {
  bucket = aws_s3_bucket.main.id
  cors_rule {
    allowed_methods = ["GET", "PUT"]
    allowed_origins = ["https://example.com"]
    allowed_headers = ["*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 300
  }
  cors_rule {
    id              = "second"
    allowed_methods = ["GET"]
    allowed_origins = ["*"]
  }
}

resource "aws_s3_bucket" "plain" {
  bucket        = "${var.bucket}-sse-s3"
  force_destroy = true
  tags          = { owner = "terraform" }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "plain" {
  bucket = aws_s3_bucket.plain.id
  rule {
    apply_server_side_encryption_by_default { sse_algorithm = "AES256" }
  }
}


resource "aws_s3_object" "hello" {
  bucket       = aws_s3_bucket.plain.id
  key          = "hello.txt"
  content      = "hello from terraform\n"
  content_type = "text/plain"
  tags         = { made = "tf" }
  depends_on   = [aws_s3_bucket_server_side_encryption_configuration.plain]
}

resource "aws_kms_key" "rotating" {
  description             = "rotating key"
  deletion_window_in_days = 10
  enable_key_rotation     = true
}

resource "aws_s3_object" "locked" {
  bucket                 = aws_s3_bucket.main.id
  key                    = "backups/locked.bin"
  content                = "kept under GOVERNANCE retention"
  server_side_encryption = "aws:kms"
  kms_key_id             = aws_kms_key.rotating.arn
  bucket_key_enabled     = true
  force_destroy          = true # versions under GOVERNANCE: destroy deletes them with the bypass header
  tags                   = { kind = "backup" }
  # Explicit, since the bucket's default retention would be read back as a change to undo (on AWS too)
  object_lock_mode              = "GOVERNANCE"
  object_lock_retain_until_date = "2030-01-01T00:00:00Z"
  depends_on = [
    aws_s3_bucket_object_lock_configuration.main,
    aws_s3_bucket_server_side_encryption_configuration.main,
    aws_s3_bucket_policy.main,
  ]
}

resource "aws_s3_bucket_ownership_controls" "plain" {
  bucket = aws_s3_bucket.plain.id
  rule { object_ownership = "ObjectWriter" }
}

data "aws_canonical_user_id" "me" {}

resource "aws_s3_bucket_acl" "plain" {
  bucket     = aws_s3_bucket.plain.id
  depends_on = [aws_s3_bucket_ownership_controls.plain]
  access_control_policy {
    owner { id = data.aws_canonical_user_id.me.id }
    grant {
      grantee {
        id   = data.aws_canonical_user_id.me.id
        type = "CanonicalUser"
      }
      permission = "FULL_CONTROL"
    }
    grant {
      grantee {
        uri  = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
        type = "Group"
      }
      permission = "READ"
    }
  }
}

resource "aws_s3_bucket_versioning" "plain" {
  bucket = aws_s3_bucket.plain.id
  versioning_configuration { status = "Suspended" }
}
