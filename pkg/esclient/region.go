package esclient

import (
	"fmt"
	"strings"
)

// Region is the region a request to host is signed for: the one given, or
// else the one in the host name.
func Region(given, host string) (string, error) {
	if given != "" {
		return given, nil
	}
	return RegionFromHost(host)
}

// RegionFromHost reads the AWS region out of a domain endpoint host, because
// AWS_REGION is the Lambda's region and a migration may cross regions.
// Known forms:
//
//	search-NAME-ID.REGION.es.amazonaws.com      (public)
//	vpc-NAME-ID.REGION.es.amazonaws.com         (VPC)
//	search-NAME-ID.REGION.es.amazonaws.com.cn   (China)
//	search-NAME-ID.aos.REGION.on.aws            (newer dual-stack)
func RegionFromHost(host string) (string, error) {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	labels := strings.Split(h, ".")
	for i, l := range labels {
		if l == "es" && i > 0 && i+1 < len(labels) && labels[i+1] == "amazonaws" {
			return labels[i-1], nil
		}
		if l == "aos" && i+2 < len(labels) && labels[i+2] == "on" {
			return labels[i+1], nil
		}
	}
	return "", fmt.Errorf("cannot read the AWS region from host %q; set region explicitly (event field \"region\" or ESSNAP_REGION)", host)
}
