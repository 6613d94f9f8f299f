// Command etcd runs etcd's server from go.etcd.io/etcd/server/v3 at the version
// k8s.io/kubernetes pins, so the apiserver and its storage agree.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
