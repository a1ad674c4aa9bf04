module tailnetd/rpcharness

go 1.23

require (
	github.com/coder/websocket v1.8.14 // indirect
	github.com/hashicorp/yamux v0.1.2 // indirect
	github.com/zeebo/errs v1.2.2 // indirect
	storj.io/drpc v0.0.34 // indirect
)
