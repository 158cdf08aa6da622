package etcd

import (
	"context"
	"errors"
	"fmt"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// connErrorTimeout bounds the one request connError makes; in the state it
// checks for, gRPC answers it at once without touching the network.
const connErrorTimeout = time.Second

// errUnreachable says that the client's connection to the cluster is
// failing: no endpoint accepted it.
var errUnreachable = errors.New("cluster unreachable")

// watchConn calls lost once if conn fails while ctx lasts. clientv3 would
// otherwise keep a call or a watch waiting silently while the cluster is
// unreachable, and a consumer would show stale data as live.
func watchConn(ctx context.Context, conn *grpc.ClientConn, lost func()) {
	for st := conn.GetState(); ; st = conn.GetState() {
		if st == connectivity.TransientFailure || st == connectivity.Shutdown {
			lost()
			return
		}
		if !conn.WaitForStateChange(ctx, st) {
			return
		}
	}
}

// unreachable returns errUnreachable with the reason the connection fails,
// when gRPC still knows it.
func unreachable(cli *clientv3.Client) error {
	if err := connError(cli); err != nil {
		return err
	}
	return errUnreachable
}

// connError returns errUnreachable with the last connection error when
// cli's connection is failing, and nil when it is not. clientv3 waits for a
// connection on every call and, when the caller's deadline passes, reports
// only "context deadline exceeded"; a fail-fast call on a failing
// connection gets gRPC's reason instead ("connection refused", a TLS
// error…).
func connError(cli *clientv3.Client) error {
	conn := cli.ActiveConnection()
	if conn.GetState() != connectivity.TransientFailure {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), connErrorTimeout)
	defer cancel()
	_, err := pb.NewMaintenanceClient(conn).Alarm(ctx,
		&pb.AlarmRequest{Action: pb.AlarmRequest_GET}, grpc.WaitForReady(false))
	switch st, _ := status.FromError(err); {
	case err == nil:
		return nil // back already
	case st.Code() == codes.Unavailable:
		return fmt.Errorf("%w: %s", errUnreachable, st.Message())
	}
	return errUnreachable
}
