// Package template holds tests that read the SAM template (template.yaml at
// the repository root) and assert the stack's security and wiring
// properties: least-privilege IAM, the snapshot bucket's protections, the
// nightly schedule, alarms, and the environment contract with the handlers.
//
// The template is parsed with gopkg.in/yaml.v3; CloudFormation short-form
// tags (!Ref, !Sub, !GetAtt, !If, ...) are converted to their long form, and
// a small evaluator resolves intrinsic functions for a given set of
// parameter values, so every property is checked in every combination of
// the template's conditions.
package template
