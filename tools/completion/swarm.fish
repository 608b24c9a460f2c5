# fish completion for swarm: commands, device names (config and scan cache), groups for --to.
# Installed as PREFIX/share/fish/vendor_completions.d/swarm.fish.
complete -c swarm -f
complete -c swarm -n '__fish_use_subcommand' -a '(swarm __complete commands)'
complete -c swarm -n 'not __fish_use_subcommand' -a '(swarm __complete devices)'
complete -c swarm -l to -x -a '(swarm __complete groups; swarm __complete devices)'
complete -c swarm -l json -d 'machine-readable output'
complete -c swarm -l timeout -x -d 'how long to wait for each answer'
complete -c swarm -s q -l quiet
complete -c swarm -s v -l verbose
complete -c swarm -s h -l help
