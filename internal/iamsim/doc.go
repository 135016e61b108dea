// Package iamsim answers IAM SimulatePrincipalPolicy in AWS's XML response
// shape, for tests. moto, the local IAM the tests run, does not implement
// that operation (field notes §7), so the tests put this handler in front
// of moto: SimulatePrincipalPolicy is decided by the test's own table, every
// other request goes on to moto unchanged. The answers go through the real
// aws-sdk-go-v2 IAM client, so its decoding is tested too.
package iamsim
