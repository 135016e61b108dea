package failure

// AccessDenied builds the error for a permission the setup lacks, found
// before anything was sent (register-repo's IAM pre-check): the message
// names each missing statement, ready to paste.
func AccessDenied(msg string) error { return &AccessDeniedError{detail(msg, nil)} }
