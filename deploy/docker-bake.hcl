# Builds all four images in one go, sharing the single compile stage of deploy/Dockerfile.
# Run from the repository root:
#
#   VERSION=0.1.0 REVISION=$(git rev-parse HEAD) docker buildx bake -f deploy/docker-bake.hcl
#   ... --push            to publish to $REGISTRY
#   ... payments          to build one family

variable "REGISTRY" {
  default = "ghcr.io/integ-dev"
}

variable "VERSION" {
  default = "0.0.0-dev"
}

variable "REVISION" {
  default = "unknown"
}

group "default" {
  targets = ["payments", "messaging", "identity", "storage"]
}

target "_common" {
  context    = "."
  dockerfile = "deploy/Dockerfile"
  args = {
    VERSION  = VERSION
    REVISION = REVISION
  }
}

target "payments" {
  inherits = ["_common"]
  target   = "payments"
  tags     = ["${REGISTRY}/integ-payments:${VERSION}"]
}

target "messaging" {
  inherits = ["_common"]
  target   = "messaging"
  tags     = ["${REGISTRY}/integ-messaging:${VERSION}"]
}

target "identity" {
  inherits = ["_common"]
  target   = "identity"
  tags     = ["${REGISTRY}/integ-identity:${VERSION}"]
}

target "storage" {
  inherits = ["_common"]
  target   = "storage"
  tags     = ["${REGISTRY}/integ-storage:${VERSION}"]
}
