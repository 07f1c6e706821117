# Rules every plan of the shop stack must pass:
#   panka plan --stack examples/shop -e dev --policy examples/shop/policies
# The input is the plan document (docs/schema/plan.schema.json). `deny` stops the plan and the
# apply; `warn` is shown.
package shop.guard

# Data is not deleted or replaced in production, even with --allow-destroy: that takes a change
# of this policy, reviewed like any other.
deny contains msg if {
	input.environment == "production"
	some a in input.actions
	a.stateful
	a.action in {"delete", "replace"}
	msg := sprintf("%s (%s) would be %sd in production", [a.address, a.kind, a.action])
}

# Buckets stay private; content goes out through CloudFront.
deny contains msg if {
	some a in input.actions
	a.kind == "S3"
	a.config.spec.publicAccess != "blocked"
	msg := sprintf("%s would be open to the public (publicAccess: %s)", [a.address, a.config.spec.publicAccess])
}

warn contains msg if {
	input.cost.delta > 200
	msg := sprintf("the estimated monthly cost grows by %.2f USD", [input.cost.delta])
}
