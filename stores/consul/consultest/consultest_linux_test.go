package consultest_test

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestAgentDiesWithTestBinary kills (SIGKILL: no cleanup runs) a test binary
// that has started an agent, and checks that the agent dies with it.
func TestAgentDiesWithTestBinary(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr := strings.TrimSpace(line)
	if err != nil || addr == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child printed %q, %v; want the agent's address", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return // the agent is gone
		}
		conn.Close()
		if time.Now().After(deadline) {
			// Do not leak it: ask it to leave, which shuts a dev agent down.
			req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/v1/agent/leave", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			t.Fatalf("agent on %s still answers 10s after its test binary was killed", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
