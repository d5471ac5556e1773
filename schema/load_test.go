package schema

import (
	"testing"
)

func TestLoadValidRepository(t *testing.T) {
	files, err := ReadDir("testdata/valid/basic")
	if err != nil {
		t.Fatal(err)
	}
	repo, errs := Load(files)
	if errs != nil {
		t.Fatalf("Load: unexpected errors:\n%v", errs)
	}
	if got := len(repo.Profiles); got != 4 {
		t.Errorf("profiles = %d, want 4", got)
	}
	if got := len(repo.Endpoints); got != 4 {
		t.Errorf("endpoints = %d, want 4", got)
	}
	if got := len(repo.Tests); got != 3 {
		t.Errorf("tests = %d, want 3", got)
	}
	web := repo.Profiles["WEB"]
	if web == nil || web.Path != "profiles/WEB.yaml" || web.Pos != (Pos{Line: 2, Col: 5}) {
		t.Fatalf("WEB = %+v", web)
	}
	if r := web.Inbound[1]; r.Pos != (Pos{Line: 8, Col: 5}) || r.ICMPType == nil || *r.ICMPType != 8 || r.Protocol != "icmp" {
		t.Errorf("WEB inbound 2 = %+v", r)
	}
	if got := web.Inbound[0].DstPorts; len(got) != 2 || got[0] != (PortRange{80, 80}) || got[1] != (PortRange{443, 443}) {
		t.Errorf("WEB inbound 1 dst_ports = %v", got)
	}
	edge := repo.Profiles["EDGE"]
	if r := edge.Inbound[2]; r.Protocol != "6" || r.SrcPorts[0] != (PortRange{1024, 65535}) || r.NotDstPorts[0] != (PortRange{22, 22}) || r.IPVersion != 4 {
		t.Errorf("EDGE inbound 3 = %+v", r)
	}
	if e := repo.Endpoint("web-2"); e == nil || e.Path != "endpoints/more.json" || e.Pos != (Pos{Line: 2, Col: 3}) {
		t.Errorf("web-2 = %+v", e)
	}
	if x := repo.Tests[2]; x.Protocol != "17" || x.Port != 53 || x.Pos != (Pos{Line: 15, Col: 5}) {
		t.Errorf("test 3 = %+v", x)
	}
}
