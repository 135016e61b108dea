package wiring

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/metrics"
)

// LazyCredentials loads the default AWS credential chain on first use only,
// so cold starts and unsigned local runs pay nothing for it. The chain's
// provider is already wrapped in a cache, which keeps Lambda's temporary
// credentials until shortly before they expire.
func LazyCredentials() aws.CredentialsProvider {
	var mu sync.Mutex
	var prov aws.CredentialsProvider
	return aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		mu.Lock()
		if prov == nil {
			// A failed load is not remembered: the next call tries again.
			cfg, err := config.LoadDefaultConfig(ctx)
			if err != nil {
				mu.Unlock()
				return aws.Credentials{}, fmt.Errorf("load AWS configuration: %w", err)
			}
			prov = cfg.Credentials
		}
		p := prov
		mu.Unlock()
		if p == nil {
			return aws.Credentials{}, fmt.Errorf("no AWS credentials found in the default chain")
		}
		return p.Retrieve(ctx)
	})
}

// SignedConnector connects through esclient: SigV4 with creds unless the
// domain is unsigned. Clients are reused per domain across warm invocations.
func SignedConnector(creds aws.CredentialsProvider) handler.Connector {
	open := signedOps(creds)
	return func(ctx context.Context, d handler.Domain) (any, error) {
		return open(ctx, d)
	}
}

// engine.Ops is what SignedConnector returns: it must serve every
// handler's interface, checked here at compile time instead of at a
// handler's first connect.
var (
	_ handler.RegisterRepoOps  = engine.Ops{}
	_ handler.TakeSnapshotOps  = engine.Ops{}
	_ handler.RestoreOps       = engine.Ops{}
	_ handler.CheckProgressOps = engine.Ops{}
	_ handler.PreflightOps     = engine.Ops{}
	_ handler.MetadataOps      = engine.Ops{}
	_ handler.ReindexOps       = engine.Ops{}
	_ handler.VerifyOps        = engine.Ops{}
	_ handler.DrillOps         = engine.Ops{}
	_ handler.DoctorOps        = engine.Ops{}
	_ handler.LedgerOps        = engine.Ops{}
)

// signedOps is the one client cache behind every connector: one signed
// esclient per domain, built on first use and kept for warm invocations.
func signedOps(creds aws.CredentialsProvider) func(context.Context, handler.Domain) (engine.Ops, error) {
	var mu sync.Mutex
	cache := map[handler.Domain]engine.Ops{}
	return func(_ context.Context, d handler.Domain) (engine.Ops, error) {
		mu.Lock()
		defer mu.Unlock()
		if ops, ok := cache[d]; ok {
			return ops, nil
		}
		c, err := esclient.New(esclient.Config{Endpoint: d.Endpoint, Region: d.Region, Unsigned: d.Unsigned, Credentials: creds})
		if err != nil {
			return engine.Ops{}, err
		}
		ops := engine.Ops{C: c}
		cache[d] = ops
		return ops, nil
	}
}

func namespace() string {
	if ns := os.Getenv("ESSNAP_METRICS_NAMESPACE"); ns != "" {
		return ns
	}
	return "essnap"
}

// Production is what every function's main wires: JSON logs to stdout,
// the real clock, the environment, and signed clients.
func Production() handler.Deps { return ProductionWith(LazyCredentials()) }

// ProductionWith is Production signing with creds (EnvCredentials for the
// functions that also link IAM, to stay within the bootstrap size limit).
func ProductionWith(creds aws.CredentialsProvider) handler.Deps {
	return handler.Deps{
		Connect: SignedConnector(creds),
		Clock:   handler.SystemClock{},
		Log:     slog.New(slog.NewJSONHandler(os.Stdout, nil)),
		Getenv:  os.Getenv,
		Metrics: &metrics.EMF{W: os.Stdout, Namespace: namespace(), Now: time.Now},
	}
}
