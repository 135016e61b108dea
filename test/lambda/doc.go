// Package lambda runs each function's real bootstrap binary under the AWS
// Lambda Runtime Interface Emulator and invokes it with the AWS CLI, using
// the sample events in events/, against the real local engines. Build tag
// "integration"; a missing emulator, CLI or engine fails the run.
package lambda
