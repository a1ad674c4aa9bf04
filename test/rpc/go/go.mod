module tailnetd/rpcharness

go 1.23

require (
	github.com/coder/websocket v1.8.14
	github.com/hashicorp/yamux v0.1.2
	storj.io/drpc v0.0.34
)

require github.com/zeebo/errs v1.2.2 // indirect
