# fish completion for swarm. The words come from swarm itself (`swarm __complete words`,
# src/host/cli_complete.c), the same as bash's and zsh's: commands, options, subcommands,
# device names (config and scan cache), groups after --to, a device's command paths after
# `call LINK`, its files after `fs LINK get` and the like (fish adds no space after a
# directory's '/'). Nothing offered: file names.
# Installed as PREFIX/share/fish/vendor_completions.d/swarm.fish.
function __swarm_complete
    set -l line (commandline -opc)
    set -l cur (commandline -ct)
    # "$cur": one word even when empty (the one being completed often is)
    set -l words (command $line[1] __complete words -- $line "$cur" 2>/dev/null)
    if test (count $words) -gt 0
        printf '%s\n' $words
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c swarm -f -a '(__swarm_complete)'
