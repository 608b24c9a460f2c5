# bash completion for swarm. The words come from swarm itself (`swarm __complete words`,
# src/host/cli_complete.c): commands, each command's options and subcommands from its own
# tables, device names from the user's config and the scan cache, groups after --to, a
# device's command paths after `call LINK`, its files after `fs LINK get` and the like.
# Nothing offered: file names.
# Installed as PREFIX/share/bash-completion/completions/swarm; or: source this file.
_swarm()
{
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" __complete words -- "${COMP_WORDS[@]:0:COMP_CWORD+1}" 2>/dev/null)" \
        -- "${COMP_WORDS[COMP_CWORD]}"))
    # a device directory (apps/): no space after it, the path goes on
    [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]] && compopt -o nospace 2>/dev/null
    return 0
}
complete -o default -F _swarm swarm
