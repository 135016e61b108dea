package esclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
)

// ErrNotSent marks a request that provably never reached the engine: the
// connection could not be opened (refused, DNS), the TLS handshake failed,
// or no time was left to send it. Nothing can have run, so a message says
// "nothing was sent" instead of "outcome unknown", and callers skip the
// state check they make after a lost answer.
var ErrNotSent = errors.New("nothing was sent")

// notSentReason says why err proves that nothing was sent, or "" when the
// request may have reached the engine (a reset or timeout after sending).
func notSentReason(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	var header tls.RecordHeaderError
	var verify *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var alert tls.AlertError
	switch {
	case errors.As(err, &dns):
		return "DNS lookup of the endpoint's host failed"
	case errors.As(err, &op) && op.Op == "dial":
		return "the connection could not be opened"
	case errors.As(err, &header), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "TLS handshake failed: the endpoint does not speak TLS; use http:// for a local engine without TLS"
	case errors.As(err, &verify), errors.As(err, &unknownCA), errors.As(err, &host), errors.As(err, &invalid):
		return "TLS handshake failed: the endpoint's certificate is not trusted"
	case errors.As(err, &alert):
		return "TLS handshake failed"
	}
	return ""
}
