// The subcommands of `hmr`, one file each in hmr/commands/; cli.cpp lists them in this order.
#pragma once

#include "hmr/cli.h"

namespace hmr::cli {

Command info_command();
Command demo_command();
Command inspect_command();
Command classify_command();
Command body_command();
Command data_command();
Command train_command();
Command eval_command();
Command fit_command();
Command prior_command();
Command mlp_command();

}  // namespace hmr::cli
