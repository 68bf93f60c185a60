output "web_acl_arn" {
  description = "The API's WAF web ACL."
  value       = aws_wafv2_web_acl.api.arn
}
