provider "aws" {
  region = "eu-west-1"

  # Refuse to run with credentials of any other account.
  allowed_account_ids = ["222222222222"]

  default_tags {
    tags = {
      Application = "moviestore"
      Environment = "production"
      ManagedBy   = "terraform"
      Repository  = "moviestore/infra/terraform/envs/production"
    }
  }
}
