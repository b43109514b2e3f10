// Package deploy holds crossrank's Kubernetes and KServe manifests
// (kubernetes/, kserve/) and the test that decodes each of them strictly
// into the API types, so that a misspelt field fails CI. It has no code of
// its own; it is a module so that the core module gains no Kubernetes
// dependency.
package deploy
