// Command coder-agent runs the github.com/coder/coder/v2 workspace agent
// (see internal/agentrun) against CODER_AGENT_URL with CODER_AGENT_TOKEN.
package main

import (
	"fmt"
	"os"

	"tailnetd.test/interop/coder-v2/internal/agentrun"
)

func main() {
	if err := agentrun.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "coder-agent:", err)
		os.Exit(1)
	}
}
