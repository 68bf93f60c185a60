terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.28"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }

  # The state bucket is created once by hand (docs/operations.md, "Stand it up"): versioned,
  # KMS-encrypted, public access blocked. S3-native locking, no DynamoDB table.
  backend "s3" {
    bucket       = "moviestore-terraform-state-111111111111"
    key          = "staging/terraform.tfstate"
    region       = "eu-west-1"
    encrypt      = true
    use_lockfile = true
  }
}
