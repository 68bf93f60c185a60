provider "aws" {
  region = "eu-west-1"

  # Refuse to run with credentials of any other account.
  allowed_account_ids = ["111111111111"]

  default_tags {
    tags = {
      Application = "moviestore"
      Environment = "staging"
      ManagedBy   = "terraform"
      Repository  = "moviestore/infra/terraform/envs/staging"
    }
  }
}
