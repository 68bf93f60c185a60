output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "azs" {
  description = "Availability zones of the subnets, in order."
  value       = var.azs
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (ALB), in the order of azs."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (EKS nodes and pods), in the order of azs."
  value       = aws_subnet.private[*].id
}

output "database_subnet_ids" {
  description = "IDs of the database subnets (RDS, ElastiCache), in the order of azs."
  value       = aws_subnet.database[*].id
}

output "nat_public_ips" {
  description = "Public addresses of the NAT gateways: what providers' and AWS's allowlists see."
  value       = aws_eip.nat[*].public_ip
}
