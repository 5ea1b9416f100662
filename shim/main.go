// Command ipcwatch-telegraf runs the sysvipc input under Telegraf's
// inputs.execd, through Telegraf's shim. With no -config it runs the input
// with its defaults (the embedded sample.conf).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/influxdata/telegraf/plugins/common/shim"

	_ "github.com/ipcwatch/ipcwatch/plugins/inputs/sysvipc"
)

func main() {
	pollInterval := flag.Duration("poll_interval", 1*time.Second, "how often to send metrics")
	pollIntervalDisabled := flag.Bool("poll_interval_disabled", false,
		`gather only when a line arrives on stdin (execd's signal = "STDIN")`)
	configFile := flag.String("config", "", "path to the config file for this plugin (sample.conf)")
	flag.Parse()
	if *pollIntervalDisabled {
		*pollInterval = shim.PollIntervalDisabled
	}
	s := shim.New()
	if err := s.LoadConfig(configFile); err != nil {
		fmt.Fprintf(os.Stderr, "ipcwatch-telegraf: loading %q: %v\n", *configFile, err)
		os.Exit(1)
	}
	if err := s.Run(*pollInterval); err != nil {
		fmt.Fprintf(os.Stderr, "ipcwatch-telegraf: %v\n", err)
		os.Exit(1)
	}
}
