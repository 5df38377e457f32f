"""The seam to the nodes: the Ansible executor, node queries (rpc) answered by the agent, SSH, keys, replication, ssconf distribution."""
